"""What changed between two versions of a record's data, pointer by pointer (pure)."""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from counterflow.core import pointer as jp
from counterflow.core.i18n import DEFAULT_LANG, message
from counterflow.core.masking import looks_masked, mask_value

Doc = dict[str, Any]
ATTACHMENT_ID = re.compile(r"^att_[0-9A-HJKMNP-TV-Z]{26}$")


def pointer_values(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf as {JSON pointer: value}; a list of scalars counts as one value."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(pointer_values(v, jp.append(prefix, k)))
        return out
    if isinstance(data, list) and data and all(isinstance(v, (dict, list)) for v in data):
        out = {}
        for i, v in enumerate(data):
            out.update(pointer_values(v, jp.append(prefix, i)))
        return out
    return {prefix: data}


def _sensitive_kind(pointer: str, sensitive: Mapping[str, str]) -> str | None:
    return next((kind for pattern, kind in sensitive.items() if jp.matches(pointer, pattern)), None)


def diff(old: Mapping[str, Any], new: Mapping[str, Any], sensitive: Mapping[str, str]) -> list[Doc]:
    """Old and new value of every changed field; sensitive values appear masked."""
    before, after = pointer_values(old), pointer_values(new)
    changes = []
    for pointer in sorted(set(before) | set(after)):
        if before.get(pointer) != after.get(pointer):
            kind = _sensitive_kind(pointer, sensitive)
            was, now = before.get(pointer), after.get(pointer)
            if kind:
                was, now = (mask_value(kind, v) if isinstance(v, str) else v for v in (was, now))
            changes.append({"path": pointer, "old": was, "new": now})
    return changes


def change_place(revision: int, path: str, side: str) -> str:
    """Where a history change's value is sealed (its AAD): the event's revision, the field, old or new."""
    return f"history/{revision}{path}/{side}"


def map_changes(changes: list[Doc], revision: int, change: Callable[[Any, str], Any]) -> list[Doc]:
    """`changes` with `change(value, place)` applied to each old and new value that is not None (sealing
    them under the record's key before they are stored, opening them when the history is read)."""
    return [dict(c, **{side: change(c.get(side), change_place(revision, str(c.get("path")), side))
                       for side in ("old", "new") if c.get(side) is not None})
            for c in changes]


def keep_masked(old: Any, new: Any, sensitive: Mapping[str, str],
                lang: str = DEFAULT_LANG) -> tuple[Any, list[Doc]]:
    """`new` with every sensitive value sent back masked (exactly as we showed it) replaced by the stored
    value it stands for, and the problems: a mask is never data, so one that stands for no stored value
    is refused naming the field. Containers along the sensitive pointers are new; the rest is shared.

    In a list the rows are matched by what they hold, not by position: a row sent back with masked values
    takes the stored row whose values all fit those masks (in stored order when several rows fit, so a
    list sent back whole or with rows removed keeps each row's own values). A row whose masks still fit
    stored rows holding different values is refused naming the row: its protected values must be typed."""
    patterns = [(jp.split(p), kind) for p, kind in sensitive.items() if p]
    if not patterns:
        return new, []
    problems: list[Doc] = []
    data = _restore(old, new, patterns, "", problems)
    return data, [dict(p, message=message(MESSAGES, p["code"], lang)) for p in problems]


_Patterns = list[tuple[list[str], str]]
MESSAGES = {
    "masked_unknown": {"zh-CN": "这是遮盖后的显示值，与已保存的内容都不对应，请填写完整内容",
                       "en": "This is a masked value that stands for nothing stored; type the value in full"},
    "masked_ambiguous": {"zh-CN": "本行的遮盖值可对应已保存的多行，无法确定是哪一行，请填写本行受保护项的完整内容",
                         "en": "The masked values in this row fit more than one stored row; "
                               "type this row's protected values in full"},
    "masked_mixed": {"zh-CN": "本行的遮盖值分属已保存的不同行，请填写本行受保护项的完整内容",
                     "en": "The masked values in this row belong to different stored rows; "
                           "type this row's protected values in full"},
}


def _restore(old: Any, new: Any, patterns: _Patterns, at: str, problems: list[Doc]) -> Any:
    kind = next((k for parts, k in patterns if not parts), None)
    if kind is not None:
        return _leaf(old, new, kind, at, problems)
    if isinstance(new, dict):
        out = {}
        for key, value in new.items():
            inner = [(parts[1:], k) for parts, k in patterns if parts[0] == key]
            out[key] = (_restore(old.get(key) if isinstance(old, dict) else None, value, inner,
                                 jp.append(at, key), problems) if inner else value)
        return out
    if isinstance(new, list):
        rows = [(parts[1:], k) for parts, k in patterns if parts[0] == jp.WILDCARD]
        stored = old if isinstance(old, list) else []
        result = _match_rows(stored, new, rows, at, problems) if rows else list(new)
        for index in range(len(result)):
            fixed = [(parts[1:], k) for parts, k in patterns if parts[0] == str(index)]
            if fixed:           # a pattern naming one position is about that position
                result[index] = _restore(stored[index] if index < len(stored) else None, result[index], fixed,
                                         jp.append(at, index), problems)
        return result
    return new


def _leaf(old: Any, new: Any, kind: str, at: str, problems: list[Doc]) -> Any:
    if isinstance(new, str) and new == old:
        return old                  # unchanged (the stored object: an unreadable value stays as stored)
    if not looks_masked(kind, new):
        return new
    if isinstance(old, str) and old and mask_value(kind, old) == new:
        return old
    problems.append({"path": at, "code": "masked_unknown"})
    return new


def _has_masks(node: Any, patterns: _Patterns) -> bool:
    kind = next((k for parts, k in patterns if not parts), None)
    if kind is not None:
        return looks_masked(kind, node)
    if isinstance(node, dict):
        return any(_has_masks(value, inner) for key, value in node.items()
                   for inner in [[(parts[1:], k) for parts, k in patterns if parts[0] == key]] if inner)
    if isinstance(node, list):
        return any(_has_masks(value, [(parts[1:], k) for parts, k in patterns
                                      if parts[0] in (jp.WILDCARD, str(index))])
                   for index, value in enumerate(node))
    return False


def _match_rows(old: list[Any], new: list[Any], patterns: _Patterns, at: str,
                problems: list[Doc]) -> list[Any]:
    result: list[Any] = []
    fits: dict[int, list[tuple[int, Any]]] = {}
    for j, row in enumerate(new):
        here = jp.append(at, j)
        if not _has_masks(row, patterns):
            result.append(row)                          # typed afresh (or new): nothing to restore
            continue
        misses: list[set[str]] = []
        for i, stored in enumerate(old):
            trial: list[Doc] = []
            value = _restore(stored, row, patterns, here, trial)
            if trial:
                misses.append({p["path"] for p in trial})
            else:
                fits.setdefault(j, []).append((i, value))
        result.append(row)
        if j not in fits:
            unmatched: list[Doc] = []
            _restore(None, row, patterns, here, unmatched)     # every mask in the row, as if none were stored
            nowhere = set.intersection(*misses) if misses else {p["path"] for p in unmatched}
            named = [p for p in unmatched if p["path"] in nowhere]
            problems.extend(named or [{"path": here, "code": "masked_mixed"}])
    for j, allowed in _in_stored_order(fits).items():
        if all(value == allowed[0][1] for _, value in allowed):
            result[j] = allowed[0][1]
        else:
            problems.append({"path": jp.append(at, j), "code": "masked_ambiguous"})
    return result


def _in_stored_order(fits: dict[int, list[tuple[int, Any]]]) -> dict[int, list[tuple[int, Any]]]:
    """The stored rows each sent row may stand for, keeping only those that leave the other sent rows a
    stored row each in the same order; if the rows cannot be in stored order, every fitting row stays."""
    rows = sorted(fits)
    lowest: dict[int, int] = {}        # the earliest stored row each sent row can take, rows before it first
    last = -1
    for j in rows:
        later = [i for i, _ in fits[j] if i > last]
        if not later:
            return fits
        last = lowest[j] = min(later)
    highest: dict[int, int] = {}       # the latest one, rows after it last
    end = max(i for found in fits.values() for i, _ in found) + 1 if fits else 0
    for j in reversed(rows):
        end = highest[j] = max(i for i, _ in fits[j] if i < end)
    out = {}
    for n, j in enumerate(rows):
        after = lowest[rows[n - 1]] if n else -1
        out[j] = [(i, value) for i, value in fits[j]
                  if after < i and (n + 1 == len(rows) or i < highest[rows[n + 1]])]
    return out


def attachment_ids(data: Any) -> list[tuple[str, str]]:
    """(pointer, id) of every attachment id in the data."""
    values = pointer_values(data)
    found = [(p, v) for p, v in values.items() if isinstance(v, str) and ATTACHMENT_ID.match(v)]
    found += [(jp.append(p, i), x) for p, v in values.items() if isinstance(v, list)
              for i, x in enumerate(v) if isinstance(x, str) and ATTACHMENT_ID.match(x)]
    return found
