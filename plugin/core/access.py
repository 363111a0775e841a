"""Who may see a record (or a file uploaded for one): written once, as a predicate and as indexed queries."""
from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

from counterflow.core import pointer as jp
from counterflow.core.engine import Actor
from counterflow.core.roles import RECORD_WIDE_ROLES, STAFF

# the fields that make an object someone's: its department, who created it, who it is assigned to
RECORD_FIELDS = {"department": "department", "creator": "created_by", "assignee": "assignee"}
# an upload no record holds yet: its uploader's department and the uploader
ATTACHMENT_FIELDS = {"department": "department", "creator": "uploaded_by"}


def sees_everything(actor: Actor) -> bool:
    """Records-wide roles (management, supervision, audit, the archive) see every record."""
    return bool(actor.roles & RECORD_WIDE_ROLES)


def clauses(actor: Actor, fields: Mapping[str, str] = RECORD_FIELDS) -> list[dict[str, str]]:
    """Each way an actor may see an object, as one equality query on one indexed field.

    Empty for an actor with no staff role; callers that must list objects run each clause
    on its own index rather than one `$or` (which the embedded store evaluates by full scan).
    """
    if not actor.roles & STAFF:
        return []
    values = {"department": actor.department, "creator": actor.id, "assignee": actor.id}
    return [{column: values[role]} for role, column in fields.items()]


def can_see(actor: Actor, obj: Mapping[str, Any], fields: Mapping[str, str] = RECORD_FIELDS) -> bool:
    """The same rule as `clauses`, applied to one object already read."""
    if not actor.roles & STAFF:
        return False
    if sees_everything(actor):
        return True
    return any(all(obj.get(k) == v for k, v in clause.items()) for clause in clauses(actor, fields))


def can_read_attachment(actor: Actor, meta: Mapping[str, Any], holders: list[Mapping[str, Any]]) -> bool:
    """An attachment follows the records that hold it (`holders`, the records named in its metadata that
    exist): whoever may see one of them may read it, and so may its uploader. One that no record holds yet
    is read under the records' rule applied to the upload (its uploader and the uploader's department).
    A file an archived record holds (`archived_at`, set by the archive's `file_in_archive`) is downloaded by
    records staff only: a grant reads the record on its page, and takes no copy away."""
    if not actor.roles & STAFF:
        return False
    if any(record.get("archived_at") for record in holders) and not records_staff(actor):
        return False
    if sees_everything(actor) or meta.get("uploaded_by") == actor.id:
        return True
    if holders:
        return any(can_see(actor, record) for record in holders)
    return can_see(actor, meta, ATTACHMENT_FIELDS)


# -- approved reading (issue 10, item 2) -----------------------------------------------------------------
# A state flagged `reading: granted` (the archive's) is read only by records staff and by holders of an
# active grant; everyone else is told to ask through a query request.
RECORDS_STAFF = frozenset({"archivist"})


def reading_restricted(state: Mapping[str, Any]) -> bool:
    """The state (its definition) keeps its records closed to all but records staff and grant holders."""
    return state.get("reading") == "granted"


def records_staff(actor: Actor) -> bool:
    return bool(actor.roles & RECORDS_STAFF)


def grant_current(grant: Mapping[str, Any], today: str) -> bool:
    """A grant reads from its first to its last day (ISO dates, both included, the counter's calendar)."""
    starts, until = grant.get("from"), grant.get("until")
    return isinstance(starts, str) and isinstance(until, str) and starts <= today <= until


# -- who may see a field (`x-visible-to`, and an approval step's `fields.hidden`) --------------------------
# A field that names the roles which see it (`"x-visible-to": ["manager"]`) is left out of a record for anyone
# holding none of them; records staff see every field (they keep the whole file). The roles that see every
# record (management, supervision, audit) see such a field only when it names them.

def hidden_fields(actor: Actor, visible_to: Mapping[str, Any]) -> list[str]:
    """The pointers (pattern pointers, `*` for any element) of the fields `actor` may not see."""
    if records_staff(actor):
        return []
    return [ptr for ptr, roles in visible_to.items() if not actor.roles & set(roles)]


def under(ptr: str, pattern: str) -> bool:
    """Whether `ptr` is the place `pattern` names (`*` for any element) or inside it."""
    a, b = jp.split(ptr), jp.split(pattern)
    return len(a) >= len(b) and all(y == jp.WILDCARD or x == y for x, y in zip(a, b))


def without_fields(data: Any, patterns: Iterable[str]) -> Any:
    """A copy of `data` without the values at `patterns` (absent places are ignored)."""
    result = copy.deepcopy(data)
    for pattern in patterns:
        parts = jp.split(pattern)
        if parts:
            _drop(result, parts)
    return result


def _drop(node: Any, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head == jp.WILDCARD and isinstance(node, list):
        children: list[Any] = node
    elif isinstance(node, dict) and head in node:
        if not rest:
            del node[head]
            return
        children = [node[head]]
    else:
        return
    for child in children:
        if rest:
            _drop(child, rest)


def values_at(data: Any, pattern: str) -> list[tuple[str, Any]]:
    """(the concrete pointer, the value) of every place `pattern` names in `data`."""
    found: list[tuple[str, Any]] = []

    def walk(node: Any, parts: list[str], at: str) -> None:
        if not parts:
            found.append((at, node))
            return
        head, rest = parts[0], parts[1:]
        if head == jp.WILDCARD and isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, rest, jp.append(at, i))
        elif isinstance(node, dict) and head in node:
            walk(node[head], rest, jp.append(at, head))

    walk(data, jp.split(pattern), "")
    return found


def blank(value: Any) -> bool:
    """Nothing typed: no value, empty text, an empty list or object (what a page posts for a field it hid)."""
    return value is None or value == "" or value == [] or value == {}


def restore_fields(sent: Any, stored: Any, patterns: Iterable[str]) -> Any:
    """`sent` with the stored value put back at every place `patterns` name (list rows by position): a person
    who does not see a field never changes or erases it."""
    result = copy.deepcopy(sent)
    for pattern in patterns:
        parts = jp.split(pattern)
        if parts:
            _restore(result, stored, parts)
    return result


def _restore(sent: Any, stored: Any, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head == jp.WILDCARD:
        if rest and isinstance(sent, list) and isinstance(stored, list):
            for mine, kept in zip(sent, stored):
                _restore(mine, kept, rest)
        return
    if not isinstance(sent, dict):
        return
    kept = stored.get(head) if isinstance(stored, dict) else None
    present = isinstance(stored, dict) and head in stored
    if not rest:
        if present:
            sent[head] = copy.deepcopy(kept)
        else:
            sent.pop(head, None)
        return
    if head not in sent and present and isinstance(kept, dict):
        sent[head] = {}
    if head in sent:
        _restore(sent[head], kept, rest)


def schema_without(schema: Any, patterns: Iterable[str]) -> Any:
    """A form's schema without the fields at `patterns` (their `properties` entries and `required` names), so
    a page neither shows nor posts them."""
    result = copy.deepcopy(schema)
    for pattern in patterns:
        parts = jp.split(pattern)
        if parts:
            _prune(result, parts)
    return result


def _prune(node: Any, parts: list[str]) -> None:
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    places = [node] + [n for n in node.get("allOf") or () if isinstance(n, dict)]
    places += [node[k] for k in ("then", "else") if isinstance(node.get(k), dict)]
    for place in places:
        if head == jp.WILDCARD:
            if rest:
                _prune(place.get("items"), rest)
            continue
        props = place.get("properties")
        if not isinstance(props, dict) or head not in props:
            continue
        if rest:
            _prune(props[head], rest)
            continue
        del props[head]
        if isinstance(place.get("required"), list):
            place["required"] = [n for n in place["required"] if n != head]
