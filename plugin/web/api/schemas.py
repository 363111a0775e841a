"""marshmallow schemas: what the REST API accepts and returns (and what OpenAPI documents)."""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from counterflow.core.accounts import USERNAME_PATTERN, USERNAME_RULE
from counterflow.core.errors import BadRequest, Invalid
from counterflow.core.i18n import message

NAME = validate.Regexp(USERNAME_PATTERN, error="username_rule")
ID = validate.Length(min=1, max=64)

MESSAGES = {
    "required": {"zh-CN": "缺少必填项「{field}」", "en": "'{field}' is required"},
    "type": {"zh-CN": "「{field}」的类型不正确", "en": "'{field}' has the wrong type"},
    "unknown_field": {"zh-CN": "不认识的字段「{field}」", "en": "Unknown field '{field}'"},
    "invalid": {"zh-CN": "「{field}」的值不正确", "en": "'{field}' is not valid"},
    "too_long": {"zh-CN": "「{field}」太长", "en": "'{field}' is too long"},
    "username_rule": USERNAME_RULE,
    "body": {"zh-CN": "请求体必须是 JSON 对象", "en": "The request body must be a JSON object"},
    "fields": {"zh-CN": "请求有 {count} 个问题", "en": "The request has {count} problem(s)"},
}
_CODES = {"Missing data for required field.": "required", "Unknown field.": "unknown_field",
          "Not a valid string.": "type", "Not a valid integer.": "type", "Not a valid mapping type.": "type",
          "Not a valid list.": "type", "Not a valid boolean.": "type", "Field may not be null.": "required",
          "username_rule": "username_rule"}


class Strict(Schema):
    class Meta:
        unknown = RAISE


class TokenRequest(Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class TokenResponse(Schema):
    token = fields.String()
    expires_at = fields.String()


class UserCreate(Strict):
    username = fields.String(required=True, validate=NAME)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    name = fields.String(load_default="", validate=validate.Length(max=100))
    roles = fields.List(fields.String(validate=validate.Length(max=32)), required=True,
                        validate=validate.Length(min=1, max=8))
    department = fields.String(load_default="", validate=validate.Length(max=100))
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=254))  # checked


class PasswordChange(Strict):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class UserOut(Schema):
    id = fields.String()
    username = fields.String()
    name = fields.String()
    roles = fields.List(fields.String())
    department = fields.String()
    active = fields.Boolean()
    email = fields.String(allow_none=True)


class AttachmentOut(Schema):
    id = fields.String()
    name = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()


class FormCreate(Strict):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9-]{1,63}$"))
    title = fields.Dict(required=True)
    description = fields.Dict()
    schema = fields.Dict(required=True)
    ui_schema = fields.Dict()
    settings = fields.Dict(required=True)


class FormUpdate(Strict):
    revision = fields.Integer(required=True, strict=True)
    title = fields.Dict()
    description = fields.Dict()
    schema = fields.Dict()
    ui_schema = fields.Dict()
    settings = fields.Dict()
    reason = fields.String(validate=validate.Length(max=2000))


class NewFormVersion(Strict):
    title = fields.Dict()
    description = fields.Dict()
    schema = fields.Dict()
    ui_schema = fields.Dict()
    settings = fields.Dict()


class FormVersionOut(Schema):
    key = fields.String()
    version = fields.Integer()
    state = fields.String()
    revision = fields.Integer()
    title = fields.Dict()
    description = fields.Dict()
    schema = fields.Dict()
    ui_schema = fields.Dict()
    settings = fields.Dict()
    author = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    published_at = fields.String(allow_none=True)
    workflows = fields.Dict(keys=fields.String(), values=fields.Integer())   # pinned at publication


class RecordCreate(Strict):
    form = fields.String(required=True, validate=ID)
    data = fields.Dict(load_default=dict)


class RecordPatch(Strict):
    data = fields.Dict(required=True)
    revision = fields.Integer(required=True, strict=True)
    reason = fields.String(validate=validate.Length(max=2000))


class Problem(Schema):
    path = fields.String()
    code = fields.String()
    message = fields.String()


class RecordOut(Schema):
    id = fields.String()
    form = fields.String()
    form_version = fields.Integer()
    workflows = fields.Dict(keys=fields.String(), values=fields.Integer())   # process -> version it runs
    process = fields.String()
    state = fields.String()
    state_title = fields.String()
    revision = fields.Integer()
    data = fields.Dict()
    acceptance_number = fields.String(allow_none=True)
    accepted_at = fields.String(allow_none=True)
    due_date = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    notice = fields.Dict(allow_none=True)
    due_at = fields.String(allow_none=True)          # the clock (service/clocks.py): last working day allowed
    due_soon = fields.Function(lambda r: bool(r.get("due_soon")))    # the embedded store reads 0 / 1
    overdue = fields.Function(lambda r: bool(r.get("overdue")))
    days_used = fields.Integer(allow_none=True)
    days_paused = fields.Integer(allow_none=True)
    extension = fields.Dict(allow_none=True)
    vouchers = fields.Dict(allow_none=True)
    answer = fields.Dict(allow_none=True)          # a complaint: the answer with its reconsideration route
    answers = fields.List(fields.Dict())
    delay_notices = fields.List(fields.Dict())     # a complaint: why its limit could not be met, told when
    callbacks = fields.List(fields.Dict())         # a complaint: callbacks by the unit and the level above
    callback_sample = fields.Dict(allow_none=True)     # the recorded draw of the level above's sample
    retention_until = fields.String(allow_none=True)     # archived: kept until this day (issue 10)
    archive_file = fields.Dict(allow_none=True)          # filed under {form, year}
    legal_hold = fields.Dict(allow_none=True)            # {reason, authority, by, at} while held
    department = fields.String()
    created_by = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    warnings = fields.List(fields.Nested(Problem))
    data_digest = fields.String(
        metadata={"description": "sha256 of the data as canonical JSON: an opinion is bound to it"})
    tasks = fields.List(fields.Dict(), metadata={"description": "the open approval step's tasks"})
    approval = fields.Dict(metadata={"description": "approval steps by state: order, tasks, votes, copies"})


class RecordList(Schema):
    items = fields.List(fields.Nested(RecordOut))
    next_cursor = fields.String(allow_none=True)


class RecordsQuery(Strict):
    form = fields.String(validate=ID)
    process = fields.String(validate=ID)
    state = fields.String(validate=ID)
    assignee = fields.String(validate=ID)
    number = fields.String(validate=ID)
    overdue = fields.Boolean()
    id_number = fields.String(validate=validate.Length(min=1, max=40))      # exact search (a keyed HMAC)
    phone = fields.String(validate=validate.Length(min=1, max=40))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=ID)
    lang = fields.String(validate=validate.Length(max=16))


class TransitionRequest(Strict):
    revision = fields.Integer(required=True, strict=True)
    opinion = fields.String(validate=validate.Length(max=2000))
    reason = fields.String(validate=validate.Length(max=2000))
    assignee = fields.String(validate=ID)
    items = fields.List(fields.String(validate=validate.Length(max=500)), validate=validate.Length(max=100))
    refer_to = fields.String(validate=validate.Length(max=2000))      # a decline: where else to go
    authority = fields.String(validate=validate.Length(max=500))     # a legal hold's court order, audit...
    on_behalf_of = fields.String(validate=ID, metadata={
        "description": "a backup acting for this holder (username; see /api/v1/me/backups)"})


class TransitionOption(Schema):
    trigger = fields.String()
    title = fields.String()
    allowed = fields.Boolean()
    requires = fields.List(fields.String())
    asks = fields.List(fields.String())
    with_data = fields.Boolean()
    shows = fields.String(allow_none=True)
    reasons = fields.List(fields.Nested(Problem))


class HistoryEvent(Schema):
    id = fields.String()
    at = fields.String()
    actor = fields.Dict()
    trigger = fields.String()
    process = fields.String()
    source = fields.String(data_key="from")
    dest = fields.String(data_key="to")
    to_process = fields.String(allow_none=True)
    opinion = fields.String(allow_none=True)
    outcome = fields.String()
    changes = fields.List(fields.Dict())
    details = fields.Dict()
    notify = fields.Dict(allow_none=True)            # {"kind", "to"}: what the notifications send
    automatic = fields.Dict(allow_none=True)         # set when the system did it (tick), never a person
    on_behalf_of = fields.Dict(allow_none=True)      # {"id", "username", "name"}: a backup acted for them


class Receipt(Schema):
    acceptance_number = fields.String()
    accepted_at = fields.String()
    due_date = fields.String()
    query_code = fields.String()
    status_url = fields.String()


class StatusQuery(Strict):
    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    lang = fields.String(validate=validate.Length(max=16))


class StatusStep(Schema):
    at = fields.String()
    process = fields.String()
    state = fields.String()


class Status(Schema):
    acceptance_number = fields.String()
    form = fields.String()
    accepted_at = fields.String()
    due_date = fields.String()
    process = fields.String()
    process_title = fields.String()
    state = fields.String()
    state_title = fields.String()
    finished = fields.Boolean()
    steps = fields.List(fields.Nested(StatusStep))
    result = fields.Dict(allow_none=True, metadata={"description": "what the applicant was last told: kind, "
                                                                   "title, failed, reason, next"})
    rating = fields.Dict(allow_none=True)


class ErrorBody(Schema):
    code = fields.String()
    message = fields.String()
    details = fields.Raw()


class Error(Schema):
    error = fields.Nested(ErrorBody)


def load(schema: Schema, body: Any, lang: str) -> dict[str, Any]:
    """Load a request body; every problem at once as `{"path", "code", "message"}` details."""
    if not isinstance(body, Mapping):
        raise BadRequest(message(MESSAGES, "body", lang), code="malformed")
    try:
        return schema.load(body)
    except ValidationError as exc:
        details = list(_details(exc.normalized_messages(), "", lang))
        raise Invalid(message(MESSAGES, "fields", lang, count=len(details)), code="invalid_request",
                      details=details) from None


def _details(messages: Any, prefix: str, lang: str):
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _details(value, f"{prefix}/{key}", lang)
        return
    for text_ in messages if isinstance(messages, list) else [messages]:
        if isinstance(text_, (dict, list)):
            yield from _details(text_, prefix, lang)
            continue
        code = _CODES.get(str(text_), "too_long" if "Longer than" in str(text_) else "invalid")
        field = prefix.rsplit("/", 1)[-1] or "body"
        yield {"path": prefix, "code": code, "message": message(MESSAGES, code, lang, field=field)}


# -- clocks: the working-day calendar, extensions (web/api/calendar.py) ------------------------------------

ISO_DAY = validate.Regexp(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class CalendarPut(Strict):
    days_off = fields.List(fields.String(validate=ISO_DAY), load_default=list,
                           validate=validate.Length(max=366))
    workdays = fields.List(fields.String(validate=ISO_DAY), load_default=list,
                           validate=validate.Length(max=366))


class CalendarYear(Schema):
    year = fields.Integer()
    days_off = fields.List(fields.String())
    workdays = fields.List(fields.String())
    source = fields.String()                 # store | settings | package
    official = fields.Boolean()              # false: weekends plus statutory holidays only
    updated_by = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)


class ExtensionRequest(Strict):
    revision = fields.Integer(required=True, strict=True)
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=60))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ExtensionDecision(Strict):
    revision = fields.Integer(required=True, strict=True)
    grant = fields.Boolean(required=True)
    opinion = fields.String(validate=validate.Length(max=2000))
