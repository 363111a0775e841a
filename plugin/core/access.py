"""Who may see a record (or a file uploaded for one): written once, as a predicate and as indexed queries."""
from __future__ import annotations

from typing import Any, Mapping

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
