"""Trust under a careless operator: `counterflow serve` killed (SIGKILL) mid-load loses no history event and
leaves no store behind; the data folder and the encryption key are private.

Real host processes on a real embedded store, a bounded load over loopback (issue 6, items 2, 4 and 18).
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pymongo
import pytest
import requests

from counterflow.store.embedded import PID_FILE, PORT_FILE
from processes import command as _command, free_port as _free_port, alive as _alive

ADMIN_PASSWORD = "Adm1n-Secret-Pass"
PASSWORD = "Counter-Pass-2026"
RENEWED = "Quiet-harbour-lantern-7431"           # after the initial password
THREADS = 3
CHAINS = 60                         # create, accept, assign: at most this many records per thread...
LOAD_SECONDS = 12.0                 # ...and the load lasts at most this long
DATA = {"applicant_name": "王小明", "id_type": "resident_id", "id_number": "11010519491231002X",
        "bank_card": "6222020200112233445", "phone": "13800138000", "changed_items": ["phone"],
        "new_details": {"new_phone": "13912345678"}, "reason": "更换手机号", "application_date": "2026-11-20"}


def store_processes(data_dir: Path) -> list[int]:
    """The pids of every nx-27017 process serving `data_dir` (read from /proc, whoever started them)."""
    folder = str((data_dir / "db").resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"nx_27017" in a for a in args) and folder.encode() in args:
            found.append(int(entry.name))
    return found


def _gone(data_dir: Path, within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (left := store_processes(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


class Serve:
    """`counterflow serve` on a free loopback port; `kill()` is SIGKILL, `terminate()` a clean stop."""

    def __init__(self, folder: Path, data_dir: Path, **env_extra: str) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stderr_path = folder / f"serve-{self.port}.err"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERFLOW_")}
        env.update(COUNTERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, COUNTERFLOW_PASSWORD_PROFILE="cheapest",
                   COUNTERFLOW_LOGIN_RATE_LIMIT="1000", **env_extra)
        self._err = open(self.stderr_path, "w")
        self.process = subprocess.Popen([_command(), "serve", "--port", str(self.port), "--data-dir",
                                         str(data_dir), "--threads", "6"], cwd=folder, env=env,
                                        stdout=subprocess.DEVNULL, stderr=self._err, stdin=subprocess.DEVNULL)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_ready(self, within: float = 40.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited early:\n{self.stderr}"
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not answer /healthz within {within:.0f}s:\n{self.stderr}")

    def token(self, username: str, password: str = PASSWORD) -> str:
        r = requests.post(self.base + "/api/v1/auth/token", json={"username": username, "password": password},
                          timeout=10)
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, within: float = 20.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(within)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._err.close()


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[Any]:
    """Start `serve`s on one data folder; afterwards none of them, and no store on the folder, is left."""
    started: list[Serve] = []
    data_dir = tmp_path / "data"

    def start(**env: str) -> Serve:
        served = Serve(tmp_path, data_dir, **env)
        started.append(served)
        served.wait_ready()
        return served

    start.data_dir = data_dir  # type: ignore[attr-defined]
    yield start
    for served in started:
        served.stop()
    for pid in store_processes(data_dir):
        os.kill(pid, signal.SIGKILL)


def _staff(host: Serve) -> dict[str, str]:
    """clerk, head (dept_head) and reviewer in one department, past their initial passwords; their tokens,
    and the reviewer's id."""
    admin = host.token("admin", ADMIN_PASSWORD)
    people = {}
    for name, role in (("clerk", "clerk"), ("head", "dept_head"), ("reviewer", "reviewer")):
        r = requests.post(host.base + "/api/v1/users", headers={"Authorization": f"Bearer {admin}"},
                          timeout=10, json={"username": name, "password": PASSWORD, "name": name.title(),
                                            "roles": [role], "department": "counter-1"})
        assert r.status_code == 201, r.text
        people[f"{name}_id"] = r.json()["id"]
        r = requests.post(host.base + "/api/v1/me/password", timeout=10,
                          headers={"Authorization": f"Bearer {host.token(name, PASSWORD)}"},
                          json={"current_password": PASSWORD, "new_password": RENEWED})
        assert r.status_code == 200, r.text
        people[name] = host.token(name, RENEWED)
    return people


class Load:
    """THREADS clients, each creating a record, accepting it and assigning it, again and again, until the host
    stops answering, CHAINS records or LOAD_SECONDS; every acknowledged transition is counted.

    The host is SIGKILLed the moment an accept or an assign is acknowledged once `kill_after` transitions
    were: the record's previous event is then most likely still on its way to `events`."""

    def __init__(self, host: Serve, people: dict[str, str], attachment: str, kill_after: int) -> None:
        self.host, self.people, self.attachment = host, people, attachment
        self.kill_after = kill_after
        self.killed = threading.Event()
        self.acknowledged = 0
        self.problems: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(THREADS)]

    def _post(self, http: requests.Session, path: str, who: str, body: dict[str, Any], expect: int) -> Any:
        r = http.post(self.host.base + path, json=body, timeout=10,
                      headers={"Authorization": f"Bearer {self.people[who]}"})
        if r.status_code != expect:
            said = self.host.stderr
            said = said[said.find("Traceback"):]
            with self._lock:
                self.problems.append(f"{path}: {r.status_code} {r.text[:300]}\n{said}")
            raise requests.RequestException("unexpected answer")
        with self._lock:
            self.acknowledged += 1
            if "/transitions/" in path and self.acknowledged >= self.kill_after and not self.killed.is_set():
                self.host.process.send_signal(signal.SIGKILL)
                self.killed.set()
        return r.json()

    def _run(self) -> None:
        deadline = time.monotonic() + LOAD_SECONDS
        http = requests.Session()
        for _ in range(CHAINS):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            try:
                data = dict(DATA, id_copy=self.attachment)
                record = self._post(http, "/api/v1/records", "clerk",
                                    {"form": "account-change", "data": data}, 201)
                record = self._post(http, f"/api/v1/records/{record['id']}/transitions/accept", "clerk",
                                    {"revision": record["revision"]}, 200)
                self._post(http, f"/api/v1/records/{record['id']}/transitions/assign", "head",
                           {"revision": record["revision"], "assignee": self.people["reviewer_id"]}, 200)
            except requests.RequestException:
                return                                  # the host was killed: this client stops

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def wait_killed(self, within: float) -> None:
        deadline = time.monotonic() + within
        while not self.killed.wait(0.01):
            assert not self.problems, self.problems
            assert time.monotonic() < deadline, f"only {self.acknowledged} transitions in {within:.0f}s"

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)


def _histories(data_dir: Path) -> dict[str, tuple[int, list[int]]]:
    """Every record in the folder's store: (its revision, the revisions of its events in `events`)."""
    port = int((data_dir / PORT_FILE).read_text())
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/",
                                                                      serverSelectionTimeoutMS=5000)
    try:
        db = client["counterflow"]
        events: dict[str, list[int]] = {}
        for event in db.events.find({"kind": "record", "revision": {"$exists": True}},
                                    {"object_id": 1, "revision": 1}):
            events.setdefault(event["object_id"], []).append(int(event["revision"]))
        return {doc["_id"]: (int(doc["revision"]), sorted(events.get(doc["_id"], [])))
                for doc in db.records.find({}, {"revision": 1})}
    finally:
        client.close()


# -- item 2: every acknowledged transition's event survives a killed host ------------------------------

def test_a_host_killed_under_load_loses_no_history_event(hosts: Any) -> None:
    host = hosts()
    people = _staff(host)
    r = requests.post(host.base + "/api/v1/attachments",
                      headers={"Authorization": f"Bearer {people['clerk']}"}, timeout=10,
                      files={"file": ("id.pdf", b"%PDF-1.4 crash", "application/pdf")})
    assert r.status_code == 201, r.text
    for kill in range(3):                              # three kills: three chances to catch a copy mid-way
        load = Load(host, people, r.json()["id"], kill_after=40 + 7 * kill)
        load.start()
        try:
            load.wait_killed(within=25)
            host.process.wait(10)
        finally:
            load.finish()
        assert not load.problems, load.problems
        host = hosts()                                 # the next serve sweeps what the killed one left
        people.update(clerk=host.token("clerk", RENEWED), head=host.token("head", RENEWED))

    histories = _histories(hosts.data_dir)
    assert len(histories) >= 30
    broken = {rid: h for rid, h in histories.items() if h[1] != list(range(h[0] + 1))}
    assert not broken, (f"{len(broken)} of {len(histories)} records miss history events: "
                        f"{list(broken.items())[:5]}")
    assert sum(h[0] + 1 for h in histories.values()) >= 90


# -- item 4: a killed serve's store is taken over by the next serve, which stops it on exit ------------------

def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_the_next_serve_replaces_a_killed_serves_store_and_a_clean_stop_leaves_none(hosts: Any) -> None:
    first = hosts()
    data_dir = hosts.data_dir
    [orphan] = store_processes(data_dir)
    port = int((data_dir / PORT_FILE).read_text())
    admin = first.token("admin", ADMIN_PASSWORD)
    r = requests.post(first.base + "/api/v1/users", headers={"Authorization": f"Bearer {admin}"}, timeout=10,
                      json={"username": "clerk", "password": PASSWORD, "name": "Clerk", "roles": ["clerk"],
                            "department": "counter-1"})
    assert r.status_code == 201, r.text
    first.kill()
    assert _alive(orphan) and store_processes(data_dir) == [orphan]     # the store outlived its host

    second = hosts()
    assert orphan not in store_processes(data_dir), "the orphan was joined, not replaced"
    [store] = store_processes(data_dir)
    assert _parent(store) == second.process.pid                          # this serve's own child, supervised
    assert int((data_dir / PID_FILE).read_text()) == store and int((data_dir / PORT_FILE).read_text()) == port
    assert "was left running by a host that is gone" in second.stderr
    admin = second.token("admin", ADMIN_PASSWORD)
    users = requests.get(second.base + "/api/v1/users", headers={"Authorization": f"Bearer {admin}"},
                         timeout=10)
    assert "clerk" in {u["username"] for u in users.json()["items"]}      # the data came along

    assert second.terminate() == 0
    assert _gone(data_dir, 15) == [], "a clean stop left a store running on the folder"
    assert not (data_dir / PID_FILE).exists() and not (data_dir / PORT_FILE).exists()


# -- item 18: the data folder, the store's files and the keys are private; the key may live elsewhere -------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_the_store_and_its_files_are_the_users_alone(tmp_path: Path) -> None:
    from counterflow.store.embedded import EmbeddedServer

    old = os.umask(0o022)                                   # the usual umask, whatever the runner's
    server = EmbeddedServer(tmp_path / "data")
    try:
        uri = server.start()
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
        client["counterflow"]["records"].insert_one({"_id": "r1", "data": {"id_number": "cf1:sealed"}})
        client.close()
        folder = server.data_dir
        assert _mode(folder) == 0o700 and _mode(folder / "db") == 0o700
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert any(p.suffix in (".db", ".sqlite", ".sqlite3") or p.parent.name == "db" for p in files), files
        assert {p.name: oct(_mode(p)) for p in files if _mode(p) & 0o077} == {}
    finally:
        server.stop()
        os.umask(old)


def test_a_data_folder_open_to_others_is_made_private(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    from counterflow.host import _secret_key

    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    _secret_key(folder, None)
    assert _mode(folder) == 0o700 and _mode(folder / "secret_key") == 0o600
    assert "was open to other users (mode 755); it is now 0700" in caplog.text


def test_the_encryption_key_can_be_kept_outside_the_data_folder(
        config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from counterflow.host import create_app

    monkeypatch.delenv("COUNTERFLOW_ENCRYPTION_KEY", raising=False)
    key_file = tmp_path / "keys" / "counterflow.key"
    app = create_app(dict(config, COUNTERFLOW_ENCRYPTION_KEY_FILE=str(key_file)), bootstrap=False)
    data_dir = Path(config["COUNTERFLOW_DATA_DIR"])
    assert key_file.exists() and not (data_dir / "encryption_key").exists()
    assert _mode(key_file) == 0o600 and _mode(key_file.parent) == 0o700
    key = key_file.read_text().strip()
    assert app.extensions["counterflow"].settings.encryption_key == key        # what seals protected fields
    # the environment variable does the same, and the same file gives the same key on the next start
    monkeypatch.setenv("COUNTERFLOW_ENCRYPTION_KEY_FILE", str(key_file))
    again = create_app(config, bootstrap=False)
    assert again.extensions["counterflow"].settings.encryption_key == key
    assert not (data_dir / "encryption_key").exists()


def test_a_key_file_setting_that_would_lose_the_data_folders_key_is_refused(
        config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from counterflow.host import create_app

    monkeypatch.delenv("COUNTERFLOW_ENCRYPTION_KEY", raising=False)
    create_app(config, bootstrap=False)                              # the default: a key in the data folder
    data_dir = Path(config["COUNTERFLOW_DATA_DIR"])
    assert _mode(data_dir) == 0o700 and _mode(data_dir / "encryption_key") == 0o600
    elsewhere = tmp_path / "elsewhere.key"
    with pytest.raises(RuntimeError, match="fix: move that file to"):
        create_app(dict(config, COUNTERFLOW_ENCRYPTION_KEY_FILE=str(elsewhere)), bootstrap=False)
    assert not elsewhere.exists()
    (data_dir / "encryption_key").rename(elsewhere)                  # what the message says to do
    moved = create_app(dict(config, COUNTERFLOW_ENCRYPTION_KEY_FILE=str(elsewhere)), bootstrap=False)
    assert moved.extensions["counterflow"].settings.encryption_key == elsewhere.read_text().strip()
