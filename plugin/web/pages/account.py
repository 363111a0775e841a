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
    error, status = None, 200
    if request.method == "POST":
        try:
            _, _, user = ext().service.login(request.form.get("username", ""),
                                             request.form.get("password", ""), lang(),
                                             request.remote_addr or "-")
        except CounterflowError as exc:
            error, status = exc.message, exc.status
        else:
            chosen = session.get("cf_lang")
            session.clear()
            session.update(ext().service.session_for(user))
            if chosen:
                session["cf_lang"] = chosen
            if user.get("must_change_password"):
                return redirect(url_for("counterflow_pages.account_password"))
            return redirect(safe_next(request.form.get("next")))
    return render_template("counterflow/login.html", error=error, next=request.values.get("next", "")), \
        status if error else 200


@bp.post("/logout")
def logout() -> Any:
    """Ends every page session of this user on the server (not only this cookie), then this one."""
    who = actor(required=False, initial_ok=True)
    if who is not None and not ext().identity_loader:
        ext().service.end_sessions(who.id)
    chosen = session.get("cf_lang")
    session.clear()
    if chosen:
        session["cf_lang"] = chosen
    return redirect(url_for("counterflow_pages.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def account_password() -> Any:
    if ext().identity_loader:
        abort(404)
    who = actor(initial_ok=True)
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
