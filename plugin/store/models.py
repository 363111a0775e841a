"""Collections, fields and indexes (mongoengine). Every id is a string; see DESIGN.md, the store.

Every index is declared here, once. The embedded store serves a query from an index only for equality or
a range on a field with a single-field index of its own (or a compound index led by such a field), and
`_id` equality or `$in`; `$or`, ranges on `_id`, `$in` on other fields and equality on a field that only
leads a compound index are full scans. So: a single-field index on every field queried by equality,
compound indexes only as (single-indexed field, `listed`) for the pages of a list, and never an index on
an array field (equality on one element of an indexed array returns nothing on the embedded store).
tests/test_store_explain.py proves every query the store sends is served by an index.
"""
from __future__ import annotations

from mongoengine import (BooleanField, DictField, Document, IntField, ListField,
                         StringField)

ALIAS = "counterflow"


# Timestamps are StringFields holding `store.stamp()` text: the embedded server mangles
# datetimes set at the top level of an update (see DESIGN.md, the store).


class _Base(Document):
    meta = {"abstract": True, "db_alias": ALIAS}


class User(_Base):
    id = StringField(primary_key=True)
    username = StringField(required=True)
    password_hash = StringField(required=True)
    name = StringField(default="")
    roles = ListField(StringField())
    department = StringField(default="")
    active = BooleanField(default=True)
    token_epoch = IntField(default=0)
    session_epoch = IntField(default=0)         # raised at sign-out: every page session ends
    must_change_password = BooleanField(default=False)
    created_at = StringField()
    meta = {"collection": "users", "indexes": [{"fields": ["username"], "unique": True}, ["department"]]}


class FormVersion(_Base):
    id = StringField(primary_key=True)          # "<key>@<version>"
    key = StringField(required=True)
    version = IntField(required=True)
    state = StringField(required=True)
    revision = IntField(default=0)
    title = DictField()
    description = DictField()
    schema = DictField()
    ui_schema = DictField()
    settings = DictField()
    author = StringField()
    created_at = StringField()
    updated_at = StringField()
    published_at = StringField()
    outbox = DictField()
    meta = {"collection": "form_versions",
            "indexes": [{"fields": ["key", "version"], "unique": True}, ["key"], ["state"]]}


class WorkflowVersion(_Base):
    id = StringField(primary_key=True)          # "<key>@<version>"
    key = StringField(required=True)
    version = IntField(required=True)
    definition = DictField()
    title = DictField()
    state = StringField()                       # in the approval process (none: stored before approvals)
    revision = IntField(default=0)
    author = StringField()                      # "counterflow" for definitions loaded from files
    duties = DictField()
    created_at = StringField()
    updated_at = StringField()
    published_at = StringField()
    outbox = DictField()
    meta = {"collection": "workflow_versions",
            "indexes": [{"fields": ["key", "version"], "unique": True}, ["key"], ["updated_at"]]}


class Record(_Base):
    id = StringField(primary_key=True)
    form = StringField(required=True)
    form_version = IntField(required=True)
    workflows = DictField()                     # process -> workflow version pinned at creation
    processes = ListField(StringField())
    process = StringField(required=True)
    state = StringField(required=True)
    revision = IntField(default=0)
    data = DictField()
    created_by = StringField()
    first_responder = StringField()
    department = StringField()
    assignee = StringField()
    acceptance_number = StringField()
    accepted_at = StringField()
    due_date = StringField()                    # ISO date, in the counter's calendar
    clock = DictField()                         # days used and paused, the running segment (clocks.py)
    due_at = StringField()                      # the last working day allowed (ISO date); none while paused
    due_soon = BooleanField()
    overdue = BooleanField()
    days_used = IntField()
    days_paused = IntField()
    tick_at = StringField()                     # the day `tick` must look at the record again (ISO date)
    tick_lease = StringField()                  # "<until>|<host>|...": whose tick holds the record
    extension = DictField()                     # the last extension request (延期) and its decision
    vouchers = DictField()                      # kind -> the printable outcome: number, date, clerk, contact
    query_code = StringField()
    state_since = StringField()
    created_at = StringField()
    updated_at = StringField()
    listed = StringField()                      # the list order key: the id again (an `_id` range full-scans)
    outbox = DictField()
    # "<master key id>:<wrapped data key>" (security/envelope.py); destruction removes it, shredding every
    # value sealed under it
    data_key = StringField()
    key_id = StringField()                      # the master key that wraps data_key ("" once it is gone)
    attachment_keys = DictField()               # attachment id -> its data key sealed under this record's
    find_id_number = StringField()              # keyed HMAC of the first ID number: exact search
    find_phone = StringField()                  # keyed HMAC of the first phone number: exact search
    retention_until = StringField()             # when retention ends (archiving sets it)
    retained_until = StringField()              # a tombstone's retention date, kept off the disposition index
    destroyed_at = StringField()                # a tombstone: when its destruction list destroyed it
    destruction_list = StringField()
    meta = {"collection": "records",
            "indexes": [["form"], ["process"], ["state"], ["assignee"], ["department"], ["created_by"],
                        ["updated_at"], ["due_date"], ["listed"],
                        ["retention_until"],            # the disposition list: a range of dates
                        ["tick_at"], ["due_at"],        # clocks: tick's look-ups, due lists
                        # key rotation; exact search on protected values (keyed HMACs)
                        ["key_id"], ["key_id", "listed"], ["find_id_number"], ["find_phone"],
                        # the pages of each visibility clause, newest first
                        ["department", "listed"], ["created_by", "listed"], ["assignee", "listed"],
                        {"fields": ["acceptance_number"], "unique": True, "sparse": True}]}


class Event(_Base):
    """One history entry; `_id` is `<object id>:<revision>` so copying it twice is harmless."""

    id = StringField(primary_key=True)
    kind = StringField(required=True)           # record | form_version
    object_id = StringField(required=True)
    revision = IntField()
    at = StringField()
    actor = DictField()
    trigger = StringField()
    process = StringField()
    source = StringField()
    dest = StringField()
    to_process = StringField()
    opinion = StringField()
    outcome = StringField()                     # done | refused
    changes = ListField(DictField())
    details = DictField()
    meta = {"collection": "events", "indexes": [["object_id"], ["kind", "at"], ["at"]]}


class Counter(_Base):
    id = StringField(primary_key=True)          # "<form>:<period>"
    seq = IntField(default=0)
    returned = IntField(default=0)
    meta = {"collection": "counters"}


class ReturnedNumber(_Base):
    """A number handed out to an accept whose write then lost a race: reused by the next accept."""

    id = StringField(primary_key=True)          # "<form>:<period>:<seq:012d>"
    counter = StringField(required=True)
    seq = IntField(required=True)
    meta = {"collection": "returned_numbers", "indexes": [["counter"]]}


class RateBucket(_Base):
    id = StringField(primary_key=True)
    count = IntField(default=0)
    expires_at = StringField()
    meta = {"collection": "rate_buckets",
            "indexes": ["expires_at"]}


class Attachment(_Base):
    id = StringField(primary_key=True)          # "att_<ULID>"
    name = StringField()
    content_type = StringField()
    size = IntField()
    sha256 = StringField()
    uploaded_by = StringField()
    department = StringField()
    created_at = StringField()
    sealed = BooleanField()                     # content sealed under the attachment's data key
    data_key = StringField()                    # master-wrapped until a record holds it (then on the record)
    key_id = StringField()
    meta = {"collection": "attachments", "indexes": [["key_id"]]}


class Meta(_Base):
    id = StringField(primary_key=True)
    value = DictField()
    meta = {"collection": "meta"}


class Notification(_Base):
    """One message to one recipient through one channel (store/notify.py): pending while it has `next_at`."""

    id = StringField(primary_key=True)          # "<event id>|<recipient>|<channel>"
    event_id = StringField(required=True)
    record_id = StringField()
    kind = StringField()                        # accepted | returned | declined | decided | urged | ...
    channel = StringField()                     # inbox | mail | webhook
    recipient = StringField()                   # a user id, "applicant" or "*" (the webhook)
    address = StringField()
    state = StringField()                       # pending | sent | failed
    attempts = IntField(default=0)
    next_at = StringField()                     # when it may be tried next; unset once sent or given up
    claim = StringField()
    content = DictField()
    created_at = StringField()
    sent_at = StringField()
    last_error = StringField()
    meta = {"collection": "notifications", "indexes": [["next_at"], ["event_id"]]}


class InboxEntry(_Base):
    """What the in-app channel delivered to one user; `box` (user|kind) serves the worklists."""

    id = StringField(primary_key=True)          # the notification's id
    user = StringField(required=True)
    box = StringField()                         # "<user>|<kind>"
    unread = StringField()                      # the user's id while unread
    kind = StringField()
    record_id = StringField()
    at = StringField()
    listed = StringField()                      # "<at>|<id>": newest first
    content = DictField()
    read_at = StringField()
    meta = {"collection": "inbox",
            "indexes": [["user"], ["box"], ["unread"], ["listed"], ["user", "listed"], ["box", "listed"],
                        ["unread", "listed"]]}


class Rating(_Base):
    """The applicant's satisfaction with one record: once (`_id` = the record's id)."""

    id = StringField(primary_key=True)
    form = StringField()
    score = IntField()
    comment = StringField()
    at = StringField()
    meta = {"collection": "ratings"}


class WorkTask(_Base):
    """Who holds an approval step's task on a record now (store/notify.py, kept from the history by the
    notification sweep): the "my tasks" worklist reads it by `user`, newest record first."""

    id = StringField(primary_key=True)          # "<record id>|<user id>"
    record_id = StringField(required=True)
    user = StringField(required=True)
    listed = StringField()                      # the record's list key
    meta = {"collection": "work_tasks", "indexes": [["record_id"], ["user"], ["listed"], ["user", "listed"]]}


ALL: tuple[type[_Base], ...]          # every model; others append theirs
ALL = (User, FormVersion, WorkflowVersion, Record, Event, Counter, ReturnedNumber, RateBucket,
       Attachment, Meta, Notification, InboxEntry, Rating, WorkTask)


class AuditEntry(_Base):
    """One entry of the audit log (store/audit.py, core/audit.py): hash-chained per UTC day."""

    id = StringField(primary_key=True)          # "k<day>:<seq:09d>" (see core/audit.entry_key)
    key = StringField(required=True)            # the same: the order of every page and walk
    day = StringField()
    seq = IntField()
    prev = StringField()
    hash = StringField()
    at = StringField()
    action = StringField()
    actor = DictField()
    actor_id = StringField()
    on_behalf_of = StringField()
    object = StringField()
    source = StringField()
    dest = StringField()
    reason = StringField()
    grant = StringField()
    request_id = StringField()
    event = StringField()                       # the history event it records: once, by the unique index
    details = DictField()
    meta = {"collection": "audit",
            "indexes": [["key"], ["actor_id"], ["action"], ["object"], ["actor_id", "key"], ["action", "key"],
                        ["object", "key"], {"fields": ["event"], "unique": True, "sparse": True}]}


class AuditInboxItem(_Base):
    """A history event on its way into the audit log (`_id` = the event's id): fed, then deleted."""

    id = StringField(primary_key=True)
    at = StringField()
    fields = DictField()
    meta = {"collection": "audit_inbox", "indexes": [["at"]]}


class AuditCheckpoint(_Base):
    """A signed seal over one partition's head; the checkpoints chain by `prev`."""

    id = StringField(primary_key=True)          # "<n:012d>"
    n = IntField(required=True)
    day = StringField()
    seq = IntField()
    key = StringField()                         # the sealed entry's key ("k<day>:<seq:09d>")
    hash = StringField()
    prev = StringField()
    at = StringField()
    key_id = StringField()
    signature = StringField()
    meta = {"collection": "audit_checkpoints", "indexes": [{"fields": ["n"], "unique": True}, ["key"]]}


class AuditDay(_Base):
    """A day that has audit entries."""

    id = StringField(primary_key=True)          # "k<day>", as `key`
    day = StringField()
    key = StringField()                         # "k<day>" (see core/audit.entry_key)
    meta = {"collection": "audit_days", "indexes": [["key"]]}


class DisposalItem(_Base):
    """One record on a destruction list, with its own status (listed, removed, blocked, shredded): the
    runner resumes from the items still listed. `list_status` / `record_status` are "<id>:<status>"."""

    id = StringField(primary_key=True)          # "<list id>:<record id>"
    list = StringField(required=True)
    record = StringField(required=True)
    status = StringField(required=True)
    list_status = StringField(required=True)
    record_status = StringField(required=True)
    meta = {"collection": "disposal_items", "indexes": [["list"], ["list_status"], ["record_status"]]}


class DestructionCertificate(_Base):
    """A signed destruction certificate: a permanent record, never destroyed."""

    id = StringField(primary_key=True)          # "cert_<list id>"
    list = StringField(required=True)
    meta = {"collection": "destruction_certificates", "indexes": [["list"]]}


ALL = (*ALL, AuditEntry, AuditInboxItem, AuditCheckpoint, AuditDay)


class Grant(_Base):
    """Approved reading (issue 10, item 2): one person may read one record from `from` to `until` (dates, both
    included) while the query request that granted it stays in a state that grants reading."""

    id = StringField(primary_key=True)          # "<request id>:<record id>": a repeated approval is harmless
    grantee = StringField(required=True)
    record = StringField(required=True)
    reader_record = StringField(required=True)  # "<grantee>|<record>": the look-up at every read
    request = StringField(required=True)
    starts = StringField(db_field="from")       # ISO date
    until = StringField()                       # ISO date
    granted_by = StringField()
    granted_at = StringField()
    meta = {"collection": "grants", "indexes": [["reader_record"], ["request"], ["grantee"]]}


ALL = (*ALL, Grant, DisposalItem, DestructionCertificate)


class Backup(_Base):
    """A/B posts (issue 8, item 3): `backup` acts for `holder` from `from` to `until` (dates in the counter's
    timezone, both included) unless ended before (`ended_at`)."""

    id = StringField(primary_key=True)
    holder = StringField(required=True)         # user ids
    backup = StringField(required=True)
    starts = StringField(db_field="from")       # ISO date
    until = StringField()                       # ISO date
    created_by = StringField()
    created_at = StringField()
    ended_at = StringField()
    ended_by = StringField()
    meta = {"collection": "backups", "indexes": [["holder"], ["backup"]]}


ALL = (*ALL, Backup)
