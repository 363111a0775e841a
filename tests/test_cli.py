"""The installed `counterflow` command, run as a real process from a folder outside the repository."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from counterflow.store.embedded import PID_FILE, PORT_FILE
from processes import command as _command, free_port as _free_port, alive as _alive

ADMIN_PASSWORD = "Adm1n-Secret-Pass"
PASSWORD = "Counter-Pass-2026"
INITIAL_PASSWORD = "Initial-Pass-2026"     # an admin's password for a new user, changed before any work
GENERATED = re.compile(r"created user 'admin' with password (\S+)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERFLOW_")}
    env.update(extra)
    return env


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_command(), *args], cwd=cwd, env=env or _env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class Served:
    """`counterflow serve` in its own process, on a free port, stopped (and cleaned up) by `stop()`."""

    def __init__(self, cwd: Path, data_dir: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.stderr_path = cwd / f"serve-{self.port}.err"
        self._err = open(self.stderr_path, "w")
        self.process = subprocess.Popen([_command(), "serve", "--port", str(self.port),
                                         "--data-dir", str(data_dir), "--threads", "4"],
                                        cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                        stderr=self._err, stdin=subprocess.DEVNULL)
        self.store_pid: int | None = None

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited early:\n{self.stderr}"
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    self.store_pid = int((self.data_dir / PID_FILE).read_text())
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not answer /healthz within {within:.0f}s:\n{self.stderr}")

    def token(self, username: str, password: str) -> str:
        r = requests.post(self.base + "/api/v1/auth/token", json={"username": username, "password": password},
                          timeout=10)
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def first_token(self, username: str, initial: str) -> str:
        """A new user's token after changing its initial password to PASSWORD, as it must first."""
        r = self.call("POST", "/api/v1/me/password", self.token(username, initial),
                      json={"current_password": initial, "new_password": PASSWORD})
        assert r.status_code == 200, r.text
        return self.token(username, PASSWORD)

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.base + path, headers={"Authorization": f"Bearer {token}"},
                                timeout=10, **kwargs)

    def terminate(self, within: float = 15.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(within)

    def stop(self) -> None:
        """Teardown: whatever happened, leave no process behind."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.store_pid and _alive(self.store_pid):
            os.kill(self.store_pid, signal.SIGKILL)
        self._err.close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working folder outside the repository."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.fixture
def serve(outside: Path) -> Iterator[Any]:
    started: list[Served] = []

    def start(env: dict[str, str] | None = None, data_dir: Path | None = None) -> Served:
        served = Served(outside, data_dir or outside / "data",
                        env or _env(COUNTERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD))
        started.append(served)
        served.wait_ready()
        return served

    yield start
    for served in started:
        served.stop()


# -- check -------------------------------------------------------------------------------------------

def test_check_passes_the_shipped_definitions(outside: Path) -> None:
    result = run("check", cwd=outside)
    assert result.returncode == 0, result.stderr
    assert "all definitions are valid" in result.stdout


def test_check_names_the_file_the_place_and_the_fix_for_a_bad_workflow(outside: Path) -> None:
    (outside / "bad.yaml").write_text(
        "key: broken\ntitle: {zh-CN: 坏, en: Broken}\ninitial: draft\n"
        "states:\n  - {name: draft}\n  - {name: done, final: true}\n"
        "transitions:\n  - {trigger: finish, source: draft, dest: gone, roles: [clerk]}\n", "utf-8")
    result = run("check", "bad.yaml", cwd=outside)
    assert result.returncode == 1
    assert "bad.yaml" in result.stderr and "/transitions/0" in result.stderr
    assert "'gone'" in result.stderr and "fix:" in result.stderr
    assert "1 problem(s)" in result.stderr


def test_check_names_the_file_the_place_and_the_fix_for_a_bad_form(outside: Path) -> None:
    form = json.loads(resources.files("counterflow.schemas").joinpath("account-change.json")
                      .read_text("utf-8"))
    form["key"] = "bad-form"
    form["schema"]["properties"]["$bad name"] = {"type": "string"}
    (outside / "bad.json").write_text(json.dumps(form, ensure_ascii=False), "utf-8")
    result = run("check", "bad.json", cwd=outside)
    assert result.returncode == 1
    assert "bad.json" in result.stderr and "/schema/properties/$bad name" in result.stderr
    assert "fix:" in result.stderr


# -- serve -------------------------------------------------------------------------------------------

def test_serve_outside_the_repo_keeps_records_across_a_restart(serve: Any, outside: Path) -> None:
    first = serve()
    assert not (outside / "counterflow-data").exists()
    admin = first.token("admin", ADMIN_PASSWORD)
    r = first.call("POST", "/api/v1/users", admin, json={"username": "clerk", "password": INITIAL_PASSWORD,
                                                         "name": "Clerk", "roles": ["clerk"],
                                                         "department": "counter-1"})
    assert r.status_code == 201, r.text
    clerk = first.first_token("clerk", INITIAL_PASSWORD)
    r = first.call("POST", "/api/v1/records", clerk,
                   json={"form": "account-change",
                         "data": {"applicant_name": "王小明", "phone": "13800138000"}})
    assert r.status_code == 201, r.text
    record_id = r.json()["id"]
    assert "generated" not in first.stderr and "created user" not in first.stderr

    assert first.terminate(15) == 0
    assert "stopped" in first.stderr
    assert first.store_pid is not None
    deadline = time.monotonic() + 10
    while _alive(first.store_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(first.store_pid), "the embedded store outlived serve"
    assert not (first.data_dir / PID_FILE).exists() and not (first.data_dir / PORT_FILE).exists()

    second = serve()
    assert second.store_pid != first.store_pid
    clerk = second.token("clerk", PASSWORD)
    r = second.call("GET", f"/api/v1/records/{record_id}", clerk)
    assert r.status_code == 200, r.text
    assert r.json()["form"] == "account-change" and r.json()["state"] == "draft"
    assert second.token("admin", ADMIN_PASSWORD)


def test_first_start_prints_a_generated_admin_password_once(serve: Any) -> None:
    first = serve(env=_env())
    found = GENERATED.findall(first.stderr)
    assert len(found) == 1, first.stderr
    password = found[0]
    assert first.token("admin", password)
    assert first.terminate() == 0

    second = serve(env=_env())
    assert "created user" not in second.stderr and password not in second.stderr
    assert second.token("admin", password)


# -- users add ---------------------------------------------------------------------------------------

def test_users_add_joins_the_running_server_and_the_user_can_log_in(serve: Any, outside: Path) -> None:
    served = serve()
    result = run("users", "add", "clerk2", "--role", "clerk", "--name", "Second Clerk",
                 "--department", "counter-1", "--data-dir", str(served.data_dir),
                 cwd=outside, env=_env(COUNTERFLOW_NEW_PASSWORD=INITIAL_PASSWORD))
    assert result.returncode == 0, result.stderr
    assert "added clerk2 (clerk)" in result.stdout
    assert served.process.poll() is None and int((served.data_dir / PID_FILE).read_text()) == served.store_pid
    token = served.first_token("clerk2", INITIAL_PASSWORD)
    r = served.call("GET", "/api/v1/forms", token)
    assert r.status_code == 200, r.text


def test_users_add_refuses_a_weak_password(outside: Path) -> None:
    data_dir = outside / "data"
    env = _env(COUNTERFLOW_NEW_PASSWORD="12345678", COUNTERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD)
    try:
        result = run("users", "add", "clerk3", "--role", "clerk", "--data-dir", str(data_dir),
                     cwd=outside, env=env)
        assert result.returncode == 1
        assert "too weak" in result.stderr and "/password" in result.stderr
        assert not (data_dir / PID_FILE).exists()          # the store it started for itself is stopped again
    finally:
        pid_file = data_dir / PID_FILE
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_users_add_refuses_a_hostile_user_name_like_the_api(outside: Path) -> None:
    data_dir = outside / "data"
    env = _env(COUNTERFLOW_NEW_PASSWORD="Counter-Pass-2026", COUNTERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD)
    try:
        result = run("users", "add", "$ne", "--role", "root", "--data-dir", str(data_dir),
                     cwd=outside, env=env)
        assert result.returncode == 1
        assert "/username" in result.stderr and "lowercase letter" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        pid_file = data_dir / PID_FILE
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_forms_export_then_import_makes_a_new_draft_version_and_names_bad_files(outside: Path) -> None:
    data_dir = outside / "data"
    env = _env(COUNTERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD)
    try:
        exported = run("forms", "export", "--out", str(outside / "defs"), "--data-dir", str(data_dir),
                       cwd=outside, env=env)
        assert exported.returncode == 0, exported.stderr
        files = sorted(p.name for p in (outside / "defs").iterdir())
        assert files == ["account-change.json", "business-licence.json", "certificate-application.json",
                         "complaint.json", "destruction-list.json", "query-request.json"]
        definition = json.loads((outside / "defs" / "account-change.json").read_text("utf-8"))
        assert definition["key"] == "account-change" and "schema" in definition and "state" not in definition
        broken = outside / "broken.json"
        broken.write_text(json.dumps(dict(definition, key="broken-form", settings={"processes": ["review"]})),
                          "utf-8")
        imported = run("forms", "import", str(outside / "defs" / "account-change.json"), str(broken),
                       "--data-dir", str(data_dir), cwd=outside, env=env)
        assert imported.returncode == 1
        assert "account-change v2 is a draft" in imported.stdout
        assert "broken.json" in imported.stderr and "/settings" in imported.stderr
        assert "1 of 2" in imported.stderr
    finally:
        pid_file = data_dir / PID_FILE
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
