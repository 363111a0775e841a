"""Loads and checks the shipped workflow and form definitions; errors name file, place and fix."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import jsonschema_rs
import yaml

from counterflow.core import pointer, registry, rules  # noqa: F401  (rules fills the registry)
from counterflow.core.errors import DefinitionError


# A definition file is refused before it is parsed into objects when it is too big or nests too deep,
# and a YAML one when it uses anchors or aliases (an alias "bomb" expands to gigabytes downstream).
MAX_DEFINITION_BYTES = 1024 * 1024     # a form's schema alone may hold 256 KiB (forms/validate.py)
MAX_DEFINITION_DEPTH = 64              # nested objects and lists; a form's schema alone 32 levels


class UnreadableDefinition(ValueError):
    """A definition file refused while reading it; the message says what is wrong and ends with the fix."""


def _too_big() -> UnreadableDefinition:
    return UnreadableDefinition(f"the file is larger than {MAX_DEFINITION_BYTES // 1024} KiB, the limit for "
                                f"a definition; fix: split it, or move repeated parts into $defs")


def _too_deep() -> UnreadableDefinition:
    return UnreadableDefinition(f"the file nests deeper than {MAX_DEFINITION_DEPTH} levels; "
                                f"fix: flatten the nested groups")


class _DefinitionLoader(yaml.SafeLoader):
    """Safe YAML without anchors, aliases or deep nesting, refused while composing (no object exists yet)."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            line = event.start_mark.line + 1 if event.start_mark else 0
            raise UnreadableDefinition(f"line {line}: YAML anchors (&name) and aliases (*name) are not "
                                       f"allowed in a definition; fix: write the repeated part out in full")
        self.depth += 1
        try:
            if self.depth > MAX_DEFINITION_DEPTH:
                raise _too_deep()
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(text: str) -> Any:
    """A workflow definition's YAML text, refused (UnreadableDefinition) when it is too big or too deep,
    uses anchors or aliases, or is not YAML."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DEFINITION_BYTES:
        raise _too_big()
    loader = _DefinitionLoader(text)
    try:
        found = loader.get_single_data()
        _json_shaped(found, [])
        return found
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UnreadableDefinition(f"not valid YAML ({where}{what[:200]}); fix: correct the syntax") from None
    finally:
        loader.dispose()


_JSON_VALUES = (str, int, float, bool, type(None))


def _json_shaped(value: Any, path: list[Any]) -> None:
    """What YAML read is what JSON could have said: member names are text, values text, numbers, true/false,
    null, lists and objects. YAML reads `1:` or `2026-01-01:` as a number or a date, `!!binary` as bytes; the
    store and the checks downstream take none of them (nesting is bounded by MAX_DEFINITION_DEPTH)."""
    if isinstance(value, dict):
        for name, member in value.items():
            if not isinstance(name, str):
                where = pointer.join(path) or "/"
                raise UnreadableDefinition(f"{where}: the member name {str(name)[:40]} is read as "
                                           f"{type(name).__name__}, not text; fix: put it in quotes")
            _json_shaped(member, [*path, name])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _json_shaped(item, [*path, index])
    elif not isinstance(value, _JSON_VALUES):
        raise UnreadableDefinition(f"{pointer.join(path) or '/'}: the value is read as "
                                   f"{type(value).__name__}, not text or a number; fix: put it in quotes")


def json_depth(text: str, limit: int) -> int:
    """How deep JSON text nests, counted up to `limit + 1` without parsing it (strings skipped)."""
    depth = deepest = 0
    at = 0
    while True:
        found = _JSON_STRUCTURE.search(text, at)
        if found is None:
            return deepest
        char, at = found.group(), found.end()
        if char == '"':                      # skip the string: up to the next quote not escaped
            while True:
                end = text.find('"', at)
                if end < 0:
                    return deepest           # unterminated: json.loads says so
                start = end
                while start > at and text[start - 1] == "\\":
                    start -= 1
                at = end + 1
                if (end - start) % 2 == 0:
                    break
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        else:
            depth -= 1


_JSON_STRUCTURE = re.compile(r'["\[\]{}]')


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(text: str) -> Any:
    """A form definition's JSON text, refused (UnreadableDefinition) when it is too big or too deep, or is
    not JSON (NaN and Infinity are not)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DEFINITION_BYTES:
        raise _too_big()
    if json_depth(text, MAX_DEFINITION_DEPTH) > MAX_DEFINITION_DEPTH:
        raise _too_deep()
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise UnreadableDefinition(f"not valid JSON ({str(exc)[:200]}); fix: correct the syntax") from None


def _read_text(entry: Any) -> str:
    """A file's UTF-8 text, read no further than the size limit (a FIFO or /dev/zero ends there too)."""
    try:
        with entry.open("rb") as handle:
            raw = handle.read(MAX_DEFINITION_BYTES + 1)
    except OSError as exc:
        raise UnreadableDefinition(f"cannot be read ({exc.strerror or exc}); "
                                   f"fix: check the path and its permissions") from None
    if len(raw) > MAX_DEFINITION_BYTES:
        raise _too_big()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableDefinition("is not UTF-8 text; fix: save it as UTF-8") from None


def read_definition(path: Path) -> Any:
    """A definition file (.yaml/.yml a workflow, else JSON) read and parsed within the limits; raises
    UnreadableDefinition saying what is wrong and the fix."""
    text = _read_text(path)
    return load_yaml(text) if path.suffix in (".yaml", ".yml") else load_json(text)


@lru_cache(maxsize=None)
def _meta_validator(name: str) -> Any:
    meta = json.loads(resources.files("counterflow.schemas.meta").joinpath(name).read_text("utf-8"))
    return jsonschema_rs.validator_for(meta)


def _pointer(path: Iterable[Any]) -> str:
    return pointer.join(path) or "/"


def check_workflow(definition: Any, source: str) -> list[str]:
    """Every problem in one workflow definition, each as 'SOURCE: PLACE: problem; fix: ...'."""
    problems = [f"{source}: {_pointer(e.instance_path)}: {e.message}; "
                f"fix: follow the workflow format in docs/definitions.md"
                for e in _meta_validator("workflow.schema.json").iter_errors(definition)]
    if problems:
        return problems
    states = [s["name"] for s in definition["states"]]
    seen = set()
    for i, name in enumerate(states):
        if name in seen:
            problems.append(f"{source}: /states/{i}: state '{name}' is listed twice; fix: remove one")
        seen.add(name)
    if definition["initial"] not in seen:
        problems.append(f"{source}: /initial: initial state '{definition['initial']}' "
                        f"is not among the states; "
                        f"fix: add it to states or pick one of {', '.join(states)}")
    for i, t in enumerate(definition["transitions"]):
        where = f"{source}: /transitions/{i}"
        name = t["trigger"]
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for s in sources:
            if s not in seen:
                problems.append(f"{where}: transition '{name}' starts from unknown state '{s}'; "
                                f"fix: use one of {', '.join(states)}")
        dests = [t["dest"]] + ([t["branch"]["dest"]] if t.get("branch") else [])
        for d in dests:
            if d not in seen:
                problems.append(f"{where}: transition '{name}' goes to unknown state '{d}'; "
                                f"fix: use one of {', '.join(states)}")
        for g in t.get("guards", []):
            if g not in registry.GUARDS:
                problems.append(f"{where}: guard '{g}' is not registered; "
                                f"fix: use one of {', '.join(sorted(registry.GUARDS))}")
        for a in t.get("actions", []):
            if a not in registry.ACTIONS:
                named = sorted(set(registry.ACTIONS) - {rules.FILL_DUTY})     # `duty` adds that one
                problems.append(f"{where}: action '{a}' is not registered; "
                                f"fix: use one of {', '.join(named)}")
        branch = t.get("branch")
        if branch and branch["if"] not in registry.CONDITIONS:
            problems.append(f"{where}: condition '{branch['if']}' is not registered; "
                            f"fix: use one of {', '.join(sorted(registry.CONDITIONS))}")
        problems.extend(_check_duties(t, where, subjects(definition)[0]))
    for i, s in enumerate(definition["states"]):
        if s.get("final") and any(
                s["name"] in (t["source"] if isinstance(t["source"], list) else [t["source"]])
                for t in definition["transitions"]):
            problems.append(f"{source}: /states/{i}: final state '{s['name']}' has outgoing transitions; "
                            f"fix: drop 'final' or the transitions leaving it")
    problems.extend(_check_approvals(definition, source, seen))
    return problems + _check_subject(definition, source)


def _check_approvals(definition: Mapping[str, Any], source: str, names: set[str]) -> list[str]:
    """Approval steps: their approve and reject transitions leave the step (core/approval.py)."""
    from counterflow.core.approval import check_block

    triggers_from: dict[str, set[str]] = {}
    for t in definition["transitions"]:
        for s in t["source"] if isinstance(t["source"], list) else [t["source"]]:
            triggers_from.setdefault(s, set()).add(t["trigger"])
    problems = []
    for i, state in enumerate(definition["states"]):
        problems.extend(check_block(state, triggers_from, names, f"{source}: /states/{i}"))
    return problems


# the part an object's own field implies, which objects of the other subject never have
_OTHER_SUBJECTS_PART = {"record": "author", "form_version": "creator", "workflow_version": "creator"}


def subjects(definition: Mapping[str, Any]) -> list[str]:
    """What a process moves: `subject` is one name or a list of them (default: records)."""
    raw = definition.get("subject", "record")
    return list(raw) if isinstance(raw, list) else [raw]


def _check_duties(t: Mapping[str, Any], where: str, subject: str) -> list[str]:
    """Separation of duties that cannot work: a part nobody can play here, or one separated from itself."""
    name, problems = t["trigger"], []
    if rules.FILL_DUTY in t.get("actions", []):
        problems.append(f"{where}: action '{rules.FILL_DUTY}' is added by 'duty'; "
                        f"fix: write 'duty: <part>' instead of naming the action")
    if t.get("duty") and t["duty"] in t.get("separate_from", []):
        problems.append(f"{where}: transition '{name}' separates duty '{t['duty']}' from itself, so whoever "
                        f"did it once could never do it again; fix: remove '{t['duty']}' from separate_from")
    if t.get("assignee_separate_from") and "assignee" not in t.get("requires", []):
        problems.append(f"{where}: transition '{name}' has assignee_separate_from but takes no assignee; "
                        f"fix: add 'assignee' to requires, or drop assignee_separate_from")
    other = _OTHER_SUBJECTS_PART.get(subject)
    for key in ("duty", "separate_from", "assignee_separate_from"):
        named = t.get(key) or []
        if other in ([named] if isinstance(named, str) else named):
            own = "creator" if other == "author" else "author"
            problems.append(f"{where}: /{key}: '{other}' is never played on a {subject.replace('_', ' ')}; "
                            f"fix: use '{own}'")
    return problems


def _check_subject(definition: dict[str, Any], source: str) -> list[str]:
    """A process for form versions needs a draft to start from and one state in which a version is in use."""
    moves = subjects(definition)
    if moves == ["record"]:
        return []
    problems = []
    if "record" in moves:
        problems.append(f"{source}: /subject: a process moves records or definition versions, not both; "
                        f"fix: split it into two processes")
    in_use = [s["name"] for s in definition["states"] if s.get("in_use")]
    if len(in_use) != 1:
        problems.append(f"{source}: /states: a process for form versions needs exactly one state with "
                        f"'in_use: true' (found {len(in_use)}); "
                        f"fix: flag the state in which a version is published")
    initial: dict[str, Any] = next(
        (s for s in definition["states"] if s["name"] == definition["initial"]), {})
    if not initial.get("editable"):
        problems.append(f"{source}: /initial: a new form version starts as an editable draft; "
                        f"fix: add 'editable: true' to state '{definition['initial']}'")
    return problems


def _starts_editable(definition: Mapping[str, Any]) -> bool:
    initial: Mapping[str, Any] = next(
        (s for s in definition.get("states", []) if s.get("name") == definition.get("initial")), {})
    return bool(initial.get("editable"))


def record_processes(workflows: Mapping[str, Any]) -> list[str]:
    """The keys of the workflows that move records (not form versions)."""
    return [k for k, d in workflows.items() if subjects(d) == ["record"]]


def load_folder(package: str | Path, folder: str, suffix: str, parse: Callable[[str], Any],
                check: Callable[[Any, str], list[str]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every `*suffix` file of a package folder (or a folder on disk), parsed and checked:
    (definitions by key, problems)."""
    found: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    where = package if isinstance(package, Path) else resources.files(package)
    for entry in sorted(where.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(suffix):
            continue
        source = f"{folder}/{entry.name}"
        try:
            definition = parse(_read_text(entry))
        except UnreadableDefinition as exc:
            problems.append(f"{source}: {exc}")
            continue
        except (ValueError, yaml.YAMLError) as exc:
            problems.append(f"{source}: cannot be read ({str(exc).splitlines()[0]}); fix: correct the syntax")
            continue
        errs = check(definition, source)
        problems.extend(errs)
        if errs:
            continue
        if definition["key"] + suffix != entry.name:
            problems.append(f"{source}: /key: key '{definition['key']}' differs from the file name; "
                            f"fix: name the file {definition['key']}{suffix}")
        found[definition["key"]] = definition
    return found, problems


def shipped_workflows(extra: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The workflow files inside the package, plus an admin's folder of them, checked together.

    A file in `extra` with the key of a shipped workflow replaces it (stored as a new version
    at start-up; running records keep theirs). Raises DefinitionError with every problem.
    """
    found, problems = load_folder("counterflow.workflows", "workflows", ".yaml", load_yaml, check_workflow)
    if extra:
        folder = Path(extra).expanduser()
        if not folder.is_dir():
            problems.append(f"{folder}: not a folder; "
                            f"fix: point COUNTERFLOW_WORKFLOWS_DIR at a folder of .yaml files")
        else:
            added, more = load_folder(folder, str(folder), ".yaml", load_yaml, check_workflow)
            found.update(added)
            problems.extend(more)
    for_forms = [k for k, d in found.items() if "form_version" in subjects(d)]
    if not problems and len(for_forms) != 1:
        problems.append(f"workflows/: {len(for_forms)} processes for form versions "
                        f"({', '.join(for_forms) or 'none'}); "
                        f"fix: exactly one workflow has 'subject: form_version' "
                        f"(restore the shipped definitions)")
    if not problems and not record_processes(found):
        problems.append("workflows/: no process for records; fix: restore the shipped definitions")
    if problems:
        raise DefinitionError(problems)
    return found


def check_processes(form: dict[str, Any], processes: Mapping[str, Any], source: str) -> list[str]:
    """The settings a form schema cannot check: known record processes (key -> workflow definition),
    the first of which starts records as an editable draft, a numbering pattern that can be used,
    and a second-level rule that is JSON Logic."""
    from json_logic import jsonLogic

    from counterflow.core.numbering import NumberPattern

    known = sorted(processes)
    settings = form.get("settings", {})
    problems = []
    for i, p in enumerate(settings.get("processes", [])):
        if p not in known:
            problems.append(f"{source}: /settings/processes/{i}: unknown process '{p}'; "
                            f"fix: use one of {', '.join(known)}")
    first = (settings.get("processes") or [None])[0]
    if first in processes and not _starts_editable(processes[first]):
        problems.append(f"{source}: /settings/processes/0: a record starts as a draft the clerk fills, "
                        f"but process '{first}' starts in a state that is not editable; "
                        f"fix: begin with a process whose initial state says 'editable: true' "
                        f"(such as intake)")
    numbering = settings.get("numbering")
    try:
        NumberPattern.parse(numbering if isinstance(numbering, str) else "")
    except ValueError as exc:
        problems.append(f"{source}: /settings/numbering: {exc}")
    review = settings.get("review")
    rule = review.get("second_level_if") if isinstance(review, dict) else None
    if rule is not None:
        try:
            jsonLogic(rule, {})
        except Exception as exc:  # noqa: BLE001 - any failure means the rule is unusable
            problems.append(f"{source}: /settings/review/second_level_if: "
                            f"not a JSON Logic rule ({type(exc).__name__}); "
                            f"fix: write it like {{\">\": [{{\"var\": \"amount\"}}, 50000]}}")
    return problems
