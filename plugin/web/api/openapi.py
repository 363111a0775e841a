"""OpenAPI 3.1 for REST API v1, generated from the marshmallow schemas in `apischemas`."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from counterflow.web.api import approvals as _a
from counterflow.web.api import backups as _b
from counterflow.web.api import definitions as _defs
from counterflow.web.api import destructions as _d
from counterflow.web.api import keys as _k
from counterflow.web.api import schemas as s
from counterflow.web.api.workflows import WorkflowSummary, WorkflowVersionOut

ERRORS = {"400": "malformed", "401": "not signed in", "403": "role or record not allowed", "404": "not found",
          "409": "stale revision or wrong state", "413": "body too large",
          "422": "invalid: details list every problem at once", "429": "too many requests",
          "503": "store unavailable"}

# (path, method, summary, request schema or None, response schema or None, success status, query schema)
OPERATIONS: list[tuple[str, str, str, Any, Any, str, Any]] = [
    ("/healthz", "get", "Store health", None, None, "200", None),
    ("/api/v1/auth/token", "post", "Exchange a user name and password for a bearer token",
     s.TokenRequest, s.TokenResponse, "200", None),
    ("/api/v1/me", "get", "The caller's identity and roles", None, s.UserOut, "200", None),
    ("/api/v1/me/password", "post", "Change one's own password; earlier tokens and sessions end",
     s.PasswordChange, None, "200", None),
    ("/api/v1/users", "post", "Create a user (admin)", s.UserCreate, s.UserOut, "201", None),
    ("/api/v1/users", "get", "List users (admin)", None, None, "200", None),
    ("/api/v1/forms", "post", "Create a form definition: version 1, draft (admin)",
     s.FormCreate, s.FormVersionOut, "201", None),
    ("/api/v1/forms", "get", "Published forms, the latest version of each", None, None, "200", None),
    ("/api/v1/forms/{key}", "get", "A form's latest published version", None, s.FormVersionOut, "200", None),
    ("/api/v1/forms/{key}/versions", "post", "New draft version from the latest",
     s.NewFormVersion, s.FormVersionOut, "201", None),
    ("/api/v1/forms/{key}/versions/{version}", "get", "Read a form version",
     None, s.FormVersionOut, "200", None),
    ("/api/v1/forms/{key}/versions/{version}", "put", "Edit a draft (409 otherwise)",
     s.FormUpdate, s.FormVersionOut, "200", None),
    ("/api/v1/forms/{key}/versions/{version}/transitions", "get", "Approval triggers the caller may fire now",
     None, None, "200", None),
    ("/api/v1/forms/{key}/versions/{version}/transitions/{trigger}", "post", "Fire an approval trigger",
     s.TransitionRequest, s.FormVersionOut, "200", None),
    ("/api/v1/forms/{key}/versions/{version}/history", "get", "Approval history", None, None, "200", None),
    ("/api/v1/records", "post", "Create a record in intake/draft; problems come back as warnings",
     s.RecordCreate, s.RecordOut, "201", None),
    ("/api/v1/records", "get", "List records with cursor paging", None, s.RecordList, "200", s.RecordsQuery),
    ("/api/v1/records/{id}", "get", "Read a record (sensitive fields masked)",
     None, s.RecordOut, "200", None),
    ("/api/v1/records/{id}", "patch", "Edit a record; after acceptance a correction with a reason",
     s.RecordPatch, s.RecordOut, "200", None),
    ("/api/v1/records/{id}/history", "get", "Every event of a record", None, None, "200", None),
    ("/api/v1/records/{id}/receipt", "get", "The acceptance receipt", None, s.Receipt, "200", None),
    ("/api/v1/records/{id}/transitions", "get",
     "Triggers the caller may fire now, with reasons for blocked ones", None, None, "200", None),
    ("/api/v1/records/{id}/transitions/{trigger}", "post", "Fire a trigger",
     s.TransitionRequest, s.RecordOut, "200", None),
    ("/api/v1/attachments", "post",
     "Upload a file (multipart field 'file'); the form field then holds its id",
     "multipart", s.AttachmentOut, "201", None),
    ("/api/v1/attachments/{id}", "get", "Download an uploaded file (staff)", None, None, "200", None),
    ("/api/v1/status", "get", "The applicant's progress look-up (public, rate-limited)",
     None, s.Status, "200", s.StatusQuery),
]

# workflow (process) definitions: a body is the definition itself, JSON or YAML (web/api/workflows.py)
OPERATIONS += [
    ("/api/v1/workflows", "post", "Upload a process definition (JSON or YAML): version 1, draft (admin); "
     "every problem at once as 422 details", "definition", WorkflowVersionOut, "201", None),
    ("/api/v1/workflows", "get", "Every process: versions, states, the version in use",
     None, None, "200", None),
    ("/api/v1/workflows/{key}", "get", "One process: its versions and the one in use",
     None, WorkflowSummary, "200", None),
    ("/api/v1/workflows/{key}/versions", "post", "New draft version: the definition sent, else a copy of the "
     "latest (409 while a version is in approval)", "definition", WorkflowVersionOut, "201", None),
    ("/api/v1/workflows/{key}/versions/{version}", "get", "Read a process version",
     None, WorkflowVersionOut, "200", None),
    ("/api/v1/workflows/{key}/versions/{version}", "put", "Replace a draft's definition; ?revision=N is the "
     "revision seen (409 when stale or not a draft)", "definition", WorkflowVersionOut, "200", None),
    ("/api/v1/workflows/{key}/versions/{version}/transitions", "get",
     "Approval triggers the caller may fire now", None, None, "200", None),
    ("/api/v1/workflows/{key}/versions/{version}/transitions/{trigger}", "post",
     "Fire an approval trigger (never by the version's author)", s.TransitionRequest, WorkflowVersionOut,
     "200", None),
    ("/api/v1/workflows/{key}/versions/{version}/history", "get", "Approval history",
     None, None, "200", None),
    ("/api/v1/workflows/{key}/versions/{version}/diagram.svg", "get",
     "The process drawn as SVG (states, transitions, roles, deadlines); ?lang=zh-CN|en", None, "svg", "200",
     None),
]

# destruction lists and their certificates (web/api/destructions.py)
OPERATIONS += [
    ("/api/v1/destructions/disposition", "get", "Records past retention and not held, oldest first",
     None, None, "200", _d.DispositionQuery),
    ("/api/v1/destructions", "post", "Propose a destruction list (archivist): a record of form "
     "destruction-list, drawn up", _d.DestructionCreate, _d.DestructionOut, "201", None),
    ("/api/v1/destructions", "get", "Destruction lists with their progress", None, None, "200",
     _d.ListsQuery),
    ("/api/v1/destructions/{list_id}", "get", "A destruction list: state, signatures, progress, options",
     None, _d.DestructionOut, "200", None),
    ("/api/v1/destructions/{list_id}/items", "post", "Add records by id (with notes) or by a search; early "
     "destruction (error, duplicate) with a reason; every refused record at once (422)", _d.ItemsAdd,
     _d.DestructionOut, "200", None),
    ("/api/v1/destructions/{list_id}/items", "get", "The list's items in one status", None, None, "200",
     _d.ItemsQuery),
    ("/api/v1/destructions/{list_id}/items/{id}", "post", "Remove an item or keep its record longer, "
     "with a reason", _d.ItemAmend, _d.DestructionOut, "200", None),
    ("/api/v1/destructions/{list_id}/transitions", "get", "Decisions the caller may take now",
     None, None, "200", None),
    ("/api/v1/destructions/{list_id}/transitions/{trigger}", "post", "Submit, approve, cancel or execute "
     "(the supervisor); execution runs item by item in the background", s.TransitionRequest,
     _d.DestructionOut, "200", None),
    ("/api/v1/destructions/{list_id}/certificate", "get", "The signed destruction certificate (canonical "
     "JSON; check it with `counterflow certificates verify`)", None, None, "200", None),
]


# approval steps (web/api/approvals.py): the step of a record and one action on it
OPERATIONS += [
    ("/api/v1/records/{id}/approval", "get", "The record's approval step: mode, tasks, holders, votes, "
     "copies, the states it may be sent back to and what the caller may do now", None, _a.ApprovalStep,
     "200", None),
    ("/api/v1/records/{id}/approval/{trigger}", "post", "An approval-step action: approve, reject (with the "
     "data_digest reviewed), send_back, transfer, delegate, add_approver, withdraw, copy, urge (429 within "
     "the step's interval)", _a.ApprovalRequest, s.RecordOut, "200", None),
]

# protected values in full (web/api/keys.py)
OPERATIONS += [
    ("/api/v1/records/{id}/reveal", "post", "Protected values in full: `fields` (pointers) and a `reason`; "
     "manager or supervisor only, each reveal in the audit log (never the values)", _k.RevealRequest, None,
     "200", None),
]


# A/B posts (web/api/backups.py); a backup acts with `on_behalf_of` on a record's transition
OPERATIONS += [
    ("/api/v1/me/backups", "post", "Name a backup for a period (from, until: dates, at most 366 days); the "
     "backup then fires transitions with on_behalf_of", _b.BackupCreate, _b.BackupOut, "201", None),
    ("/api/v1/me/backups", "get", "My A/B posts: who stands in for me, for whom I stand in",
     None, _b.BackupList, "200", None),
    ("/api/v1/me/backups/{backup_id}", "delete", "End an A/B post at once (holder, backup or admin)",
     None, _b.BackupOut, "200", None),
    ("/api/v1/users/{username}/backups", "post", "Name a backup for anyone (admin)", _b.BackupCreate,
     _b.BackupOut, "201", None),
]

# definitions under review (web/api/definitions.py): differences between versions, checks without saving
OPERATIONS += [
    ("/api/v1/forms/{key}/versions/{version}/diff", "get", "What changed from version ?against=N (default: "
     "the version before) to this one, field by field: added, removed, changed rules, labels, layout, "
     "settings, each in words", None, _defs.DiffOut, "200", _defs.DiffQuery),
    ("/api/v1/workflows/{key}/versions/{version}/diff", "get", "What changed from version ?against=N "
     "(default: the version before) to this one: states, transitions by trigger and source, the process's "
     "own keys", None, _defs.DiffOut, "200", _defs.DiffQuery),
    ("/api/v1/forms/check", "post", "Check a form definition as an upload would, writing nothing: 200 "
     "{problems: []}, else 422 listing every problem (admin)", s.FormCreate, _defs.CheckOut, "200", None),
    ("/api/v1/workflows/check", "post", "Check a workflow definition (JSON or YAML) as an upload would, "
     "writing nothing: 200 {problems: []}, else 422 listing every problem (admin)", "definition",
     _defs.CheckOut, "200", None),
]


@lru_cache(maxsize=8)
def spec(prefix: str = "") -> dict[str, Any]:
    api = APISpec(title="counterflow", version="1", openapi_version="3.1.0", plugins=[MarshmallowPlugin()],
                  info={"description": "Service-counter forms and workflows. "
                                       "Errors: {error: {code, message, details}}."})
    api.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.components.schema("Error", schema=s.Error)
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, request, response, status, query in OPERATIONS:
        op: dict[str, Any] = {"summary": summary, "responses": {
            status: {"description": "success",
                     **({"content": {"application/json": {"schema": response}}}
                        if response and response != "svg" else {})},
            **{code: {"description": text, "content": {"application/json": {"schema": "Error"}}}
               for code, text in ERRORS.items()},
        }}
        params = [{"in": "path", "name": name, "required": True,
                   "schema": {"type": "integer" if name == "version" else "string"}}
                  for name in ("key", "version", "id", "trigger", "name", "entry_id")
                  if "{" + name + "}" in path]
        if query:
            params.append({"in": "query", "schema": query})
        if params:
            op["parameters"] = params
        if response == "svg":
            op["responses"][status] = {"description": "success",
                                       "content": {"image/svg+xml": {"schema": {"type": "string"}}}}
        if request == "definition":
            definition = {"type": "object", "description": "a workflow definition (docs/definitions.md)"}
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": definition}, "application/yaml": {"schema": definition}}}
        elif request == "multipart":
            op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}}}}}}
        elif request:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
        if path not in ("/healthz", "/api/v1/auth/token", "/api/v1/status"):
            op["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method] = op
    for path, operations in paths.items():
        api.path(path=prefix + path, operations=operations)
    return api.to_dict()
