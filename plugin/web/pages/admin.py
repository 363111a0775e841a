"""Admin pages: form definitions through their approval, and users."""
from __future__ import annotations

import json
from typing import Any

from flask import redirect, render_template, request, url_for

from counterflow.core.errors import CounterflowError, Invalid
from counterflow.forms.render import render_fields
from counterflow.web.pages.common import actor, as_int, bp, ext, lang, problems_of, t
from counterflow.web.pages.differences import version_differences


@bp.route("/admin/forms", methods=["GET", "POST"])
def admin_forms() -> Any:
    who = actor()
    service = ext().service
    problems: list[Any] = []
    source = ""
    if request.method == "POST":
        source = request.form.get("definition", "")
        try:
            definition = json.loads(source)
            if not isinstance(definition, dict):
                raise ValueError
        except ValueError:
            problems = [{"path": "", "code": "json", "message": t("bad_json")}]
        else:
            try:
                doc = service.create_form(who, definition, lang())
                return redirect(url_for("counterflow_pages.admin_form_version", key=doc["key"],
                                        version=doc["version"]))
            except CounterflowError as exc:
                problems = problems_of(exc)
    versions = service.all_form_versions(who, lang())
    return render_template("counterflow/admin_forms.html", versions=versions, problems=problems,
                           source=source), \
        422 if problems else 200


@bp.route("/admin/forms/<key>/versions/<int:version>", methods=["GET", "POST"])
def admin_form_version(key: str, version: int) -> Any:
    who = actor()
    service = ext().service
    problems: list[Any] = []
    error = None
    if request.method == "POST":
        action = request.form.get("_action", "")
        payload: dict[str, Any] = {"revision": as_int(request.form.get("revision"))}
        if request.form.get("opinion"):
            payload["opinion"] = request.form["opinion"][:2000]
        try:
            if action == "new_version":
                doc = service.new_form_version(who, key, {}, lang())
                return redirect(url_for("counterflow_pages.admin_form_version", key=key,
                                        version=doc["version"]))
            service.fire_form(who, key, version, action, payload, lang())
            return redirect(url_for("counterflow_pages.admin_form_version", key=key, version=version))
        except Invalid as exc:
            problems, error = list(exc.details), exc.message
        except CounterflowError as exc:
            error = exc.message
    doc = service.form_version(who, key, version, lang())
    options = service.form_options(who, key, version, lang())
    preview = render_fields(doc["schema"], doc.get("ui_schema") or {}, {}, [], lang(), tz=service.tz)
    definition = json.dumps({k: doc.get(k)
                             for k in ("key", "title", "description", "schema", "ui_schema", "settings")},
                            ensure_ascii=False, indent=2)
    history = service.form_history(who, key, version, lang())
    state_title = service.form_workflow().state_title(doc["state"], lang())
    return render_template("counterflow/admin_form_version.html", doc=doc, options=options, preview=preview,
                           definition=definition, problems=problems, error=error, history=history,
                           state_title=state_title, diff=version_differences("form", who, key, version)), \
        422 if problems or error else 200


@bp.route("/admin/users", methods=["GET", "POST"])
def admin_users() -> Any:
    who = actor()
    service = ext().service
    problems: list[Any] = []
    if request.method == "POST":
        payload = {"username": request.form.get("username", "").strip(),
                   "password": request.form.get("password", ""),
                   "name": request.form.get("name", "").strip()[:100], "roles": request.form.getlist("roles"),
                   "department": request.form.get("department", "").strip()[:100],
                   "email": request.form.get("email", "").strip()[:254]}
        try:
            if not payload["roles"] or not payload["username"]:
                raise Invalid(t("user_fields"), details=[{"path": "/roles", "code": "required",
                                                          "message": t("user_fields")}])
            service.create_user(who, payload, lang())
            return redirect(url_for("counterflow_pages.admin_users"))
        except CounterflowError as exc:
            problems = problems_of(exc)
    users = service.list_users(who, lang())
    from counterflow.core.roles import ROLES

    return render_template("counterflow/admin_users.html", users=users, roles=ROLES, problems=problems), \
        422 if problems else 200
