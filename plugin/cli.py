"""The `counterflow` command: init, serve, check, tick, forms, users add."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from counterflow.core import definitions
from counterflow.core.errors import CounterflowError, DefinitionError


def fail(what: str) -> NoReturn:
    """A command that cannot go on: one line on stderr saying what is wrong and the fix, exit code 2."""
    click.echo("counterflow: " + " ".join(what.split()), err=True)
    sys.exit(2)


def _folder_problem(exc: OSError, data_dir: str | None) -> NoReturn:
    where = str(exc.filename or data_dir or "counterflow-data")
    reason = "a file is in the way" if Path(where).is_file() else exc.strerror or str(exc)
    fail(f"the data folder {where} cannot be used ({reason}); fix: pass --data-dir (or set "
         f"COUNTERFLOW_DATA_DIR to) a folder this user may write, or one that can be created")


def _app(data_dir: str | None, *, bootstrap: bool = True) -> Any:
    """The portal's app under `flask counterflow`, else the standalone host's; prepared by `init` first."""
    from flask import current_app, has_app_context
    from flask.cli import ScriptInfo

    context = click.get_current_context(silent=True)
    script = context.find_object(ScriptInfo) if context else None      # set by `flask` (and test_cli_runner)
    if has_app_context():
        app = current_app._get_current_object()           # type: ignore[attr-defined]
    elif script is not None:
        app = script.load_app()
    else:
        from counterflow.host import create_app

        config = {"COUNTERFLOW_DATA_DIR": data_dir} if data_dir else {}
        try:
            app = create_app(config, bootstrap=False)
        except OSError as exc:                  # the data folder: a missing parent, a file, read-only
            _folder_problem(exc, data_dir)
    if bootstrap:
        _bootstrap(app)
    return app


def _bootstrap(app: Any) -> None:
    """What `init` does (idempotent); a store that does not answer stops the command with the fix."""
    from pymongo.errors import PyMongoError

    state = app.extensions["counterflow"]
    try:
        state.bootstrap()
    except (PyMongoError, CounterflowError) as exc:
        state.close()
        where = "the MongoDB at COUNTERFLOW_MONGODB_URI" if state.settings.mongodb_uri else \
            f"the embedded store in {state.settings.data_dir}"
        click.echo(f"counterflow: {where} did not answer ({type(exc).__name__}: {str(exc)[:200]}); "
                   "fix: start it, or check COUNTERFLOW_MONGODB_URI, then run the command again", err=True)
        sys.exit(2)


@click.group(name="counterflow", help="Forms and workflows for service counters.")
def group() -> None:
    pass


@group.command(help="Prepare the store: indexes, the shipped workflows and forms, the first admin (its "
               "generated password is printed once), left-over history events. Safe to run again.")
@click.option("--data-dir", default=None)
def init(data_dir: str | None) -> None:
    try:
        app = _app(data_dir, bootstrap=False)
    except (DefinitionError, RuntimeError) as exc:
        click.echo(f"counterflow: {exc}", err=True)
        sys.exit(2)
    state = app.extensions["counterflow"]
    try:
        _bootstrap(app)
    finally:
        state.close()
    click.echo("counterflow: the store is ready")


def _log_to_stderr() -> None:
    """serve: counterflow's own log (store crashes and restarts, start-up waits) goes to stderr."""
    import logging

    logger = logging.getLogger("counterflow")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s counterflow %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False                           # waitress configures the root logger too


def _bootstrap_patiently(app: Any, seconds: float) -> None:
    """serve: a store that is slow to come up is retried with back-off, each wait logged, for `seconds`."""
    import logging
    import time

    from pymongo.errors import PyMongoError

    from counterflow.core.errors import StoreUnavailable

    log = logging.getLogger("counterflow.cli")
    state = app.extensions["counterflow"]
    deadline, delay, attempt = time.monotonic() + seconds, 0.5, 0
    while time.monotonic() + delay < deadline:
        attempt += 1
        try:
            state.bootstrap()
            return
        except (PyMongoError, StoreUnavailable) as exc:
            log.warning("the store does not answer yet (attempt %d: %s); retrying in %.1fs, for up to %.0fs "
                        "more", attempt, type(exc).__name__, delay, deadline - time.monotonic())
        except CounterflowError:
            break                                          # not a slow store: _bootstrap says what is wrong
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    _bootstrap(app)                                        # the last try: succeeds, or names the fix, exits 2


@group.command(help="Run the standalone host (waitress), on the embedded store unless a URI is set.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--data-dir", default=None, help="Folder for the embedded store and the secret key "
              "[default: ./counterflow-data or COUNTERFLOW_DATA_DIR]")
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--wait-for-store", default=60.0, show_default=True, type=float,
              help="Seconds to keep retrying, at start-up, a store that does not answer yet.")
def serve(host: str, port: int, data_dir: str | None, threads: int, wait_for_store: float) -> None:
    import logging

    from waitress.server import create_server

    _log_to_stderr()
    try:
        app = _app(data_dir, bootstrap=False)
    except DefinitionError as exc:
        click.echo("counterflow: the definitions have problems:\n" + str(exc), err=True)
        sys.exit(2)
    except RuntimeError as exc:
        fail(str(exc))
    state = app.extensions["counterflow"]
    try:       # the port first: a port in use stops serve before it starts a store
        server = create_server(app, host=host, port=port, threads=threads, ident="counterflow",
                               max_request_body_size=state.settings.max_upload_bytes + 1024 * 1024)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} ({exc.strerror or exc}); fix: stop the program that uses it, "
             f"or pass --port (and --host) a free one")
    try:
        _bootstrap_patiently(app, wait_for_store)
    except BaseException:
        server.close()
        raise

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    ticker = _start_ticker(state)             # tick every COUNTERFLOW_TICK_EVERY_SECONDS (0: never)
    signal.signal(signal.SIGTERM, stop)
    where = (state.settings.mongodb_uri and "the configured MongoDB" or
             f"the embedded store in {state.settings.data_dir}")
    click.echo(f"counterflow: serving on http://{host}:{port}/ with {where}", err=True)
    logging.basicConfig()                                  # as waitress.serve does
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if ticker is not None:
            ticker.stop()
        state.close()
        click.echo("counterflow: stopped", err=True)


def _read_files(files: tuple[str, ...]) -> dict[str, Any]:
    """Each definition file parsed within the limits (size, depth, no YAML aliases); any that cannot be
    read stops the command: one line per file, exit code 2."""
    found: dict[str, Any] = {}
    refused: list[str] = []
    for name in files:
        try:
            found[name] = definitions.read_definition(Path(name))
        except definitions.UnreadableDefinition as exc:
            refused.append(f"{name}: {exc}")
    for line in refused[:-1]:
        click.echo("counterflow: " + " ".join(line.split()), err=True)
    if refused:
        fail(refused[-1])
    return found


@group.command(help="Check every shipped definition, and any definition FILES given "
               "(.json forms, .yaml workflows).")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def check(files: tuple[str, ...]) -> None:
    from counterflow.forms.check import check_form_definition, shipped_forms

    problems: list[str] = []
    given_workflows: dict[str, Any] = {}
    try:
        workflows: Any = definitions.shipped_workflows()
    except DefinitionError as exc:
        problems.extend(exc.problems)
        workflows = None                 # the shipped forms are judged once the workflows they name load
    try:
        if workflows is not None:
            shipped_forms(workflows)
    except DefinitionError as exc:
        problems.extend(exc.problems)
    for name, data in _read_files(files).items():
        if Path(name).suffix in (".yaml", ".yml"):
            problems.extend(definitions.check_workflow(data, name))
            if (isinstance(data, dict) and isinstance(data.get("key"), str) and
                    data.get("subject", "record") == "record"):
                given_workflows[data["key"]] = data
        else:
            errs = check_form_definition(data, name)
            known = {k: workflows[k] for k in definitions.record_processes(workflows or {})} | given_workflows
            problems.extend(errs or definitions.check_processes(data, known, name))
    if problems:
        for p in problems:
            click.echo(p, err=True)
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("all definitions are valid")


@group.command(help="Periodic work, safe to run from many hosts at once: copy history events left in "
               "outboxes by a crash.")
@click.option("--data-dir", default=None)
@click.option("--now", "now_text", default=None, metavar="ISO",
              help="Run as if it were this time (ISO 8601, such as 2026-12-01T09:00+08:00): deadlines, "
                   "reminders, escalations and timeouts are judged at it. For tests and operators.")
def tick(data_dir: str | None, now_text: str | None = None) -> None:
    now = _tick_now(now_text)                  # a wrong --now stops before any store is started
    app = _app(data_dir)
    state = app.extensions["counterflow"]
    try:
        copied = state.service.sweep_outboxes()
        clocks = state.service.tick(now, progress=lambda line: click.echo(f"tick: {line}", err=True))
        audited = state.service.feed_audit()          # history events a crash kept from the log
        sealed = state.service.seal_audit()
        notices = state.service.pump_notifications()
    finally:
        state.close()
    click.echo(f"copied {copied} outbox event(s) into the history")
    click.echo(f"clocks: {clocks.summary()}")
    click.echo(f"audit: fed {audited} event(s), wrote {len(sealed)} checkpoint(s)")
    click.echo("notifications: {derived} new, {sent} sent, {retry} to retry later, {failed} given up"
               .format(**notices))


@group.group(help="Move form definitions in and out of a store as JSON files.")
def forms() -> None:
    pass


DEFINITION_KEYS = ("key", "title", "description", "schema", "ui_schema", "settings")
IMPORTED_KEYS = (*DEFINITION_KEYS, "$comment")          # what a definition file may hold at the top


@forms.command("export", help="Write the latest published version of every form (or of KEYS) "
                              "as KEY.json files.")
@click.argument("keys", nargs=-1)
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False))
@click.option("--data-dir", default=None)
def forms_export(keys: tuple[str, ...], out_dir: str, data_dir: str | None) -> None:
    app = _app(data_dir)
    state = app.extensions["counterflow"]
    try:
        published: dict[str, Any] = {}
        for doc in state.store.form_versions_in(state.service.form_workflow().states_where("in_use")):
            published[doc["key"]] = doc
        missing = sorted(set(keys) - set(published))
        if missing:
            click.echo(f"counterflow: no published form {', '.join(missing)}", err=True)
            sys.exit(1)
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        for key in sorted(keys or published):
            doc = published[key]
            definition = {k: doc[k] for k in DEFINITION_KEYS if doc.get(k)}
            (target / f"{key}.json").write_text(json.dumps(definition, ensure_ascii=False, indent=2) + "\n",
                                                "utf-8")
            click.echo(f"{key} v{doc['version']} -> {target / (key + '.json')}")
    finally:
        state.close()


@forms.command("import", help="Load form definition FILES as drafts (a new version for a known key); "
                              "they then go through approval like any definition.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--data-dir", default=None)
def forms_import(files: tuple[str, ...], data_dir: str | None) -> None:
    from counterflow.core.engine import Actor

    read = _read_files(tuple(f for f in files if Path(f).suffix not in (".yaml", ".yml")))
    refused = [f"{name}: a form definition is a JSON file; fix: import .json files (workflows are loaded "
               f"from COUNTERFLOW_WORKFLOWS_DIR)" for name in files if name not in read]
    for name, definition in read.items():
        if not isinstance(definition, dict):
            refused.append(f"{name}: not a JSON object; fix: write {{\"key\": ..., \"title\": ..., "
                           f"\"schema\": ..., \"settings\": ...}}")
            continue
        unknown = [k for k in definition if k not in IMPORTED_KEYS]
        if unknown:
            named = ", ".join(repr(k[:40]) for k in unknown[:10])
            refused.append(f"{name}: unknown top-level key(s) {named}; fix: remove them or correct their "
                           f"spelling (allowed: {', '.join(IMPORTED_KEYS)})")
    for line in refused[:-1]:
        click.echo("counterflow: " + " ".join(line.split()), err=True)
    if refused:
        fail(refused[-1])                                  # before any store is started
    app = _app(data_dir)
    state = app.extensions["counterflow"]
    system = Actor(id="cli", username="cli", name="counterflow forms import", roles=frozenset({"admin"}))
    failed = 0
    try:
        for name, definition in read.items():
            try:
                if (isinstance(definition.get("key"), str) and
                        state.store.latest_form_version(definition["key"])):
                    changes = {k: v for k, v in definition.items() if k in DEFINITION_KEYS and k != "key"}
                    doc = state.service.new_form_version(system, definition["key"], changes, "en")
                else:
                    doc = state.service.create_form(system, definition, "en")
            except CounterflowError as exc:
                failed += 1
                click.echo(f"{name}: {exc.message}", err=True)
                for d in exc.details if isinstance(exc.details, list) else []:
                    click.echo(f"  {d.get('message')}", err=True)
                continue
            click.echo(f"{name}: {doc['key']} v{doc['version']} is a draft; submit it for approval")
    finally:
        state.close()
    if failed:
        click.echo(f"{failed} of {len(files)} file(s) not imported", err=True)
        sys.exit(1)


@group.group(help="Manage users of the standalone host.")
def users() -> None:
    pass


@users.command("add", help="Add a user; the password comes from COUNTERFLOW_NEW_PASSWORD or a prompt.")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--name", default="")
@click.option("--department", default="")
@click.option("--data-dir", default=None)
def users_add(username: str, roles: tuple[str, ...], name: str, department: str,
              data_dir: str | None) -> None:
    from counterflow.core.engine import Actor

    password = os.environ.get("COUNTERFLOW_NEW_PASSWORD") or click.prompt("password", hide_input=True,
                                                                          confirmation_prompt=True)
    from counterflow.web.api.schemas import UserCreate, load

    app = _app(data_dir)
    state = app.extensions["counterflow"]
    system = Actor(id="cli", username="cli", roles=frozenset({"admin"}))
    try:
        # the API's own checks
        payload = load(UserCreate(), {"username": username, "password": password, "name": name,
                                      "roles": list(roles), "department": department}, "en")
        user = state.service.create_user(system, payload, "en")
    except CounterflowError as exc:
        click.echo(f"counterflow: {exc.message}", err=True)
        for d in exc.details if isinstance(exc.details, list) else []:
            click.echo(f"  {d.get('path')}: {d.get('message')}", err=True)
        sys.exit(1)
    finally:
        state.close()
    click.echo(f"added {user['username']} ({', '.join(user['roles'])})")


DAY_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
EXPORT_FORMAT = "counterflow-audit-checkpoints/1"


@group.group(help="The tamper-evident audit log: verify it, seal it, export its checkpoints.")
def audit() -> None:
    pass


def _day_option(value: str | None, name: str, default: str) -> str:
    if value is None:
        return default
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{name} {value!r} is not a day; fix: give it as YYYY-MM-DD")
    if not DAY_TEXT.fullmatch(value):
        fail(f"{name} {value!r} is not a day; fix: give it as YYYY-MM-DD")
    return value


def _exported(file: str | None) -> list[dict[str, Any]]:
    if not file:
        return []
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
        docs = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        fail(f"cannot read the exported checkpoints {file}: {exc}; fix: give a file written by "
             "`counterflow audit checkpoints --out FILE`")
    return [d for d in docs if isinstance(d, dict) and "format" not in d]


@audit.command("verify", help="Walk every partition (UTC day) of the audit log and its signed "
               "checkpoints with flat memory, progress on stderr; an edited, deleted, reordered, inserted or "
               "truncated entry or checkpoint is named (day and seq) and the exit code is 1.")
@click.option("--from", "first", default=None, metavar="DAY", help="the first day to walk (YYYY-MM-DD)")
@click.option("--to", "last", default=None, metavar="DAY", help="the last day to walk (YYYY-MM-DD)")
@click.option("--public-key", "public_keys", multiple=True, type=click.Path(dir_okay=False),
              help="a PEM file with an earlier signing key's public key (checkpoints signed before a change "
                   "of COUNTERFLOW_SIGNING_KEY)")
@click.option("--checkpoints", "exported", default=None, type=click.Path(dir_okay=False),
              help="checkpoints exported earlier (`audit checkpoints --out`): each must still be stored")
@click.option("--data-dir", default=None)
def audit_verify(first: str | None, last: str | None, public_keys: tuple[str, ...], exported: str | None,
                 data_dir: str | None) -> None:
    first_day, last_day = _day_option(first, "--from", ""), _day_option(last, "--to", "9999-12-31")
    try:
        keys = [Path(k).read_text() for k in public_keys]
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}; fix: give the path of a PEM public key")
    earlier = _exported(exported)
    app = _app(data_dir)
    state = app.extensions["counterflow"]
    try:
        state.service.feed_audit()
        result = state.service.verify_audit(
            first_day, last_day, public_keys=keys, exported=earlier,
            progress=lambda day, n: click.echo(f"audit verify: {day}: {n} entries", err=True))
    finally:
        state.close()
    for problem in result.problems:
        click.echo(f"TAMPERED: {problem}", err=True)
    if result.problem_count > len(result.problems):
        click.echo(f"... and {result.problem_count - len(result.problems)} more", err=True)
    for day, count in sorted(result.unsealed.items()):
        click.echo(f"note: {day}: the last {count} entries are not sealed by a checkpoint yet", err=True)
    summary = (f"{result.entries} entries in {result.days} day(s), {result.checkpoints} checkpoint(s)")
    if not result.ok:
        click.echo(f"counterflow: the audit log is NOT intact: {result.problem_count} problem(s); {summary}",
                   err=True)
        sys.exit(1)
    click.echo(f"audit log intact: {summary}")


@audit.command("seal", help="Feed the history events still waiting into the log, then write a signed "
               "checkpoint over the head of every day not sealed to its end (`tick` seals past days).")
@click.option("--data-dir", default=None)
def audit_seal(data_dir: str | None) -> None:
    app = _app(data_dir)
    state = app.extensions["counterflow"]
    try:
        fed = state.service.feed_audit()
        written = state.service.seal_audit(force=True)
    finally:
        state.close()
    click.echo(f"fed {fed} event(s); wrote {len(written)} checkpoint(s)")


@audit.command("checkpoints", help="Export every signed checkpoint as JSON lines (the first line holds the "
               "public key) for an outside system; `audit verify --checkpoints FILE` checks the store "
               "against such a file later.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="the file to write ('-': stdout)")
@click.option("--data-dir", default=None)
def audit_checkpoints(out: str, data_dir: str | None) -> None:
    app = _app(data_dir)
    state = app.extensions["counterflow"]
    count = 0
    try:
        signer = state.service.signer
        with click.open_file(out, "w", encoding="utf-8") as sink:
            sink.write(json.dumps({"format": EXPORT_FORMAT, "key_id": signer.key_id(),
                                   "public_key": signer.public_key_pem()}) + "\n")
            for doc in state.store.audit_log.checkpoint_chain():
                sink.write(json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n")
                count += 1
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}; fix: give a writable path")
    finally:
        state.close()
    click.echo(f"wrote {count} checkpoint(s) to {out}", err=out == "-")


@group.group(help="Destruction lists: run (or resume) the execution of an approved list.")
def destructions() -> None:
    pass


@destructions.command("run", help="Execute (or resume) destruction list LIST_ID item by item, progress on "
                      "stderr; a crashed or stopped run is resumed and never destroys a record twice.")
@click.argument("list_id")
@click.option("--data-dir", default=None)
def destructions_run(list_id: str, data_dir: str | None) -> None:
    app = _app(data_dir)
    state = app.extensions["counterflow"]

    def progress(done: int, total: int) -> None:
        click.echo(f"destroyed {done}/{total}", err=True)

    try:
        certificate = state.service.run_destruction(list_id, progress, lang="en")
    except CounterflowError as exc:
        click.echo(f"counterflow: {exc.message}", err=True)
        sys.exit(1)
    finally:
        state.close()
    body = certificate["envelope"]["certificate"]
    click.echo(f"list {list_id}: {body['count']} record(s) destroyed; certificate {body['id']}")


@group.group(help="Destruction certificates.")
def certificates() -> None:
    pass


@certificates.command("verify", help="Check that FILE (a certificate as downloaded from "
                      "/api/v1/destructions/LIST_ID/certificate) is exactly as signed: any changed byte "
                      "fails with exit code 1.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--public-key", "public_key", type=click.Path(dir_okay=False), default=None,
              help="a PEM file with the public key the certificate must be signed with")
def certificates_verify(file: str, public_key: str | None) -> None:
    from counterflow.service.disposal import verify_certificate

    try:
        raw = Path(file).read_bytes()
        expected = Path(public_key).read_text() if public_key else None
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}; fix: give the path of the certificate file")
    ok, said = verify_certificate(raw, expected)
    if not ok:
        click.echo(f"counterflow: {file}: NOT VALID: {said}", err=True)
        sys.exit(1)
    click.echo(f"{file}: valid: {said}")


@group.group(help="Per-record data keys and the master keys (COUNTERFLOW_ENCRYPTION_KEY) that wrap them.")
def keys() -> None:
    pass


@keys.command("rotate", help="Rewrap every data key under the first COUNTERFLOW_ENCRYPTION_KEY (the new "
              "master key; list the old ones after it), in batches, while the service runs. Safe to "
              "interrupt and run again: it resumes with the records still under an old key. Once it reports "
              "done, the old keys can be removed from the configuration.")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--max-batches", default=None, type=click.IntRange(1), help="Stop after this many batches")
@click.option("--data-dir", default=None)
def keys_rotate(batch: int, max_batches: int | None, data_dir: str | None) -> None:
    app = _app(data_dir)
    state = app.extensions["counterflow"]
    try:
        ring = state.service.keyring
        if len(ring.order) < 2:
            click.echo(f"counterflow: only one master key ({ring.current}) is configured: nothing to rotate; "
                       "fix: put the new key first in COUNTERFLOW_ENCRYPTION_KEY, then the old one", err=True)
        counts = state.service.rotate_keys(batch, max_batches, lambda line: click.echo(line, err=True))
    finally:
        state.close()
    if counts["done"]:
        click.echo(f"rotated: {counts['rewrapped']} record key(s) and {counts['attachments']} attachment "
                   f"key(s) now under {ring.current}; {counts['skipped']} skipped")
    else:
        click.echo(f"stopped after {counts['batches']} batch(es): {counts['rewrapped']} record key(s) "
                   "rewrapped; run it again to go on")


def main() -> None:
    """The console script: an error nothing above foresaw is still one line and exit code 2; set
    COUNTERFLOW_DEBUG=1 to see its traceback."""
    try:
        group(prog_name="counterflow")
    except Exception as exc:  # noqa: BLE001 - the last resort for a command-line user
        if os.environ.get("COUNTERFLOW_DEBUG"):
            raise
        fail(f"unexpected {type(exc).__name__}: {str(exc)[:300]}; fix: correct what it names and run the "
             f"command again, or run it with COUNTERFLOW_DEBUG=1 and report the traceback")


# -- clocks: `tick --now` and serve's background tick (service/tick.py) ------------------------------------

def _tick_now(text: str | None) -> Any:
    """--now as an aware time (a time without a zone is the counter's), or None for the clock's."""
    import datetime as dt

    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--now {text[:40]!r} is not an ISO 8601 time; fix: give such as 2026-12-01T09:00+08:00 "
             "or 2026-12-01")
    if when.tzinfo is None:
        from zoneinfo import ZoneInfo
        when = when.replace(tzinfo=ZoneInfo(os.environ.get("COUNTERFLOW_TIMEZONE") or "Asia/Shanghai"))
    return when.astimezone(dt.timezone.utc)


def _start_ticker(state: Any) -> Any:
    from counterflow.service.tick import Ticker

    every = state.settings.tick_every_seconds
    return Ticker(state.service, every).start() if every else None
