"""Signing in and out of the built-in login, and changing one's own password."""
from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, session, url_for

from counterflow.core.errors import CounterflowError
from counterflow.web.pages.common import actor, bp, ext, lang, problems_of, safe_next


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if ext().identity_loader:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            _, _, user = ext().service.login(request.form.get("username", ""),
                                             request.form.get("password", ""), lang())
        except CounterflowError as exc:
            error = exc.message
        else:
            chosen = session.get("cf_lang")
            session.clear()
            session["cf_uid"] = user["_id"]
            session["cf_epoch"] = user.get("token_epoch", 0)
            if chosen:
                session["cf_lang"] = chosen
            return redirect(safe_next(request.form.get("next")))
    return render_template("counterflow/login.html", error=error, next=request.values.get("next", "")), \
        401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    session.pop("cf_uid", None)
    session.pop("cf_epoch", None)
    return redirect(url_for("counterflow_pages.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def account_password() -> Any:
    if ext().identity_loader:
        abort(404)
    who = actor()
    problems: list[Any] = []
    if request.method == "POST":
        try:
            ext().service.change_password(who, request.form.get("current_password", ""),
                                          request.form.get("new_password", ""), lang())
        except CounterflowError as exc:
            problems = problems_of(exc)
        else:
            session["cf_epoch"] = ext().service.user_state(who)["token_epoch"]   # this session goes on
            return redirect(url_for("counterflow_pages.worklist", changed=1))
    return render_template("counterflow/password.html", problems=problems), 422 if problems else 200
