"""`counterflow serve` survives its embedded store: killed mid-load, it answers 503, restarts it, keeps all.

A real host process on a real embedded store; a bounded load of record creations from a few
threads over loopback; the store process is SIGKILLed twice while the load runs.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from counterflow.store.embedded import PID_FILE, PORT_FILE
from processes import command as _command, free_port as _free_port, alive as _alive

ADMIN_PASSWORD = "Adm1n-Secret-Pass"
PASSWORD = "Counter-Pass-2026"
RENEWED = "Quiet-harbour-lantern-7431"           # after the initial password
TIMEOUT_MS = 1000                   # COUNTERFLOW_STORE_TIMEOUT_MS of the host under test
SLOWEST = 6.0                       # no request may take longer than this, outage or not
THREADS = 3
PER_THREAD = 80                     # the load is bounded in count...
LOAD_SECONDS = 25.0                 # ...and in time


def _pid(folder: Path) -> int:
    return int((folder / PID_FILE).read_text())


class Host:
    """`counterflow serve` on a free loopback port and its own data folder."""

    def __init__(self, folder: Path, **env_extra: str) -> None:
        self.data_dir = folder / "data"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stderr_path = folder / "serve.err"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERFLOW_")}
        env.update(COUNTERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, COUNTERFLOW_PASSWORD_PROFILE="cheapest",
                   COUNTERFLOW_STORE_TIMEOUT_MS=str(TIMEOUT_MS), **env_extra)
        self._err = open(self.stderr_path, "w")
        self.process = subprocess.Popen([_command(), "serve", "--port", str(self.port), "--data-dir",
                                         str(self.data_dir), "--threads", "8"], cwd=folder, env=env,
                                        stdout=subprocess.DEVNULL, stderr=self._err, stdin=subprocess.DEVNULL)
        self.store_pids: set[int] = set()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def healthy(self) -> bool:
        try:
            return requests.get(self.base + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_healthy(self, within: float) -> float:
        began = time.monotonic()
        while time.monotonic() - began < within:
            assert self.process.poll() is None, f"serve exited:\n{self.stderr}"
            if self.healthy():
                if (self.data_dir / PID_FILE).exists():
                    self.store_pids.add(_pid(self.data_dir))
                return time.monotonic() - began
            time.sleep(0.1)
        raise AssertionError(f"serve did not answer /healthz within {within:.0f}s:\n{self.stderr}")

    def wait_said(self, text: str, within: float) -> None:
        deadline = time.monotonic() + within
        while text not in self.stderr:
            assert time.monotonic() < deadline, f"serve did not say {text!r}:\n{self.stderr}"
            time.sleep(0.05)

    def token(self, username: str, password: str) -> str:
        r = requests.post(self.base + "/api/v1/auth/token", json={"username": username, "password": password},
                          timeout=10)
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        try:
            self.store_pids.add(_pid(self.data_dir))
        except (OSError, ValueError):
            pass
        for pid in self.store_pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._err.close()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    served = Host(tmp_path)
    try:
        served.wait_healthy(30)
        yield served
    finally:
        served.stop()


class Load:
    """THREADS clients creating records until told to stop, PER_THREAD at most each; every answer kept."""

    def __init__(self, host: Host, token: str) -> None:
        self.host, self.token = host, token
        self.results: list[tuple[str, int, dict[str, Any], float]] = []    # (lang, status, body, seconds)
        self.hangs: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(THREADS)]

    def _run(self, n: int) -> None:
        lang = "en" if n % 2 else "zh-CN"
        deadline = time.monotonic() + LOAD_SECONDS
        for i in range(PER_THREAD):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            began = time.monotonic()
            try:
                r = requests.post(f"{self.host.base}/api/v1/records?lang={lang}",
                                  headers={"Authorization": f"Bearer {self.token}"}, timeout=SLOWEST + 4,
                                  json={"form": "account-change",
                                        "data": {"applicant_name": f"王{n}-{i}", "phone": "13800138000"}})
            except requests.RequestException as exc:
                with self._lock:
                    self.hangs.append(f"{type(exc).__name__} after {time.monotonic() - began:.1f}s")
                continue
            try:
                body = r.json()
            except ValueError:
                body = {"not json": r.text[:200]}
            with self._lock:
                self.results.append((lang, r.status_code, body, time.monotonic() - began))
            time.sleep(0.02)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def count(self, status: int) -> int:
        with self._lock:
            return sum(1 for _, s, _, _ in self.results if s == status)

    def wait_for(self, status: int, at_least: int, within: float) -> None:
        deadline = time.monotonic() + within
        while self.count(status) < at_least:
            assert time.monotonic() < deadline, f"fewer than {at_least} answers {status}: {self.summary()}"
            time.sleep(0.05)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(SLOWEST + 10)

    def summary(self) -> dict[int, int]:
        with self._lock:
            out: dict[int, int] = {}
            for _, s, _, _ in self.results:
                out[s] = out.get(s, 0) + 1
            return out


def _hold(port: int) -> tuple[socket.socket, threading.Event]:
    """Take the store's port the moment it is free: connections are accepted and closed at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    deadline = time.monotonic() + 2
    while True:
        try:
            sock.bind(("127.0.0.1", port))
            break
        except OSError:
            assert time.monotonic() < deadline, "the killed store's port did not come free"
            time.sleep(0.005)
    sock.listen(16)
    sock.settimeout(0.1)
    done = threading.Event()

    def refuse() -> None:
        while not done.is_set():
            try:
                conn, _ = sock.accept()
                conn.close()
            except OSError:
                pass

    threading.Thread(target=refuse, daemon=True).start()
    return sock, done


def test_a_killed_store_gives_503s_then_the_host_recovers_with_no_acknowledged_record_lost(
        host: Host) -> None:
    admin = host.token("admin", ADMIN_PASSWORD)
    r = requests.post(host.base + "/api/v1/users", headers={"Authorization": f"Bearer {admin}"}, timeout=10,
                      json={"username": "clerk", "password": PASSWORD, "name": "Clerk", "roles": ["clerk"],
                            "department": "counter-1"})
    assert r.status_code == 201, r.text
    # an initial password: changed before any other work
    r = requests.post(host.base + "/api/v1/me/password", timeout=10,
                      headers={"Authorization": f"Bearer {host.token('clerk', PASSWORD)}"},
                      json={"current_password": PASSWORD, "new_password": RENEWED})
    assert r.status_code == 200, r.text
    clerk = host.token("clerk", RENEWED)
    store_port = int((host.data_dir / PORT_FILE).read_text())
    load = Load(host, clerk)
    load.start()
    try:
        # 1. killed mid-load: the host notices and restarts the store by itself
        load.wait_for(201, 10, within=20)
        first = _pid(host.data_dir)
        os.kill(first, signal.SIGKILL)
        host.wait_healthy(15)
        host.wait_said(f"the embedded store is back on port {store_port}", 10)   # the watchdog saw it too
        assert _pid(host.data_dir) != first and int((host.data_dir / PORT_FILE).read_text()) == store_port
        created = load.count(201)
        load.wait_for(201, created + 5, within=15)          # and the load goes on being served

        # 2. killed again, and its port held for a while: a real outage, answered with 503s
        second = _pid(host.data_dir)
        os.kill(second, signal.SIGKILL)
        killed = time.monotonic()
        sock, done = _hold(store_port)
        try:
            load.wait_for(503, 3, within=10)
            health = requests.get(host.base + "/healthz", timeout=SLOWEST)
            assert health.status_code == 503 and health.json()["store"] == "unavailable"
            while time.monotonic() - killed < 2.5:
                time.sleep(0.05)
        finally:
            done.set()
            sock.close()
        back_within = host.wait_healthy(20)
        assert back_within < 15
        created = load.count(201)
        load.wait_for(201, created + 5, within=15)
    finally:
        load.finish()

    # no 500, no hang, only 201 or a JSON 503 naming the store, in the request's language
    assert not load.hangs, load.hangs
    statuses = load.summary()
    assert set(statuses) <= {201, 503}, [(s, b) for _, s, b, _ in load.results if s not in (201, 503)]
    assert statuses.get(503, 0) >= 3, statuses
    slowest = max(t for _, _, _, t in load.results)
    assert slowest < SLOWEST, f"a request took {slowest:.1f}s"
    messages: dict[str, set[str]] = {"en": set(), "zh-CN": set()}
    for lang, status, body, _ in load.results:
        if status == 503:
            assert body["error"]["code"] == "store_unavailable", body
            assert body["error"]["message"], body
            messages[lang].add(body["error"]["message"])
    assert all(len(m) <= 1 for m in messages.values()), messages
    if messages["en"] and messages["zh-CN"]:
        assert messages["en"] != messages["zh-CN"]

    # every record acknowledged with 201 is there after both crashes
    ids = [b["id"] for _, s, b, _ in load.results if s == 201]
    assert len(ids) == len(set(ids)) and len(ids) >= 20
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {clerk}"
    missing = [i for i in ids
               if session.get(f"{host.base}/api/v1/records/{i}", timeout=10).status_code != 200]
    assert not missing, f"{len(missing)} of {len(ids)} acknowledged records lost: {missing[:5]}"

    # the host logged each crash and each restart, with the signal and the attempt
    log = host.stderr
    assert log.count("died: killed by SIGKILL") == 2, log
    assert f"pid {first}" in log and f"pid {second}" in log
    assert "(attempt 1)" in log and f"port {store_port} is taken by another process" in log
    assert log.count(f"the embedded store is back on port {store_port}") == 2, log
    assert host.process.poll() is None                    # the host itself was never restarted


def test_serve_waits_for_a_store_that_is_slow_to_come_up(tmp_path: Path) -> None:
    """A MongoDB that answers only seconds after `serve` starts: serve retries, logs each wait, serves."""
    port = _free_port()
    served = Host(tmp_path, COUNTERFLOW_MONGODB_URI=f"mongodb://127.0.0.1:{port}/")
    store: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 30
        while "does not answer yet (attempt 2" not in served.stderr:
            assert served.process.poll() is None, f"serve gave up at once:\n{served.stderr}"
            assert time.monotonic() < deadline, served.stderr
            time.sleep(0.1)
        folder = tmp_path / "late-store"
        folder.mkdir()
        command = [sys.executable, "-c", "from nx_27017.nx_27017 import main; main()",
                   "--data-dir", str(folder / "db"), "--host", "127.0.0.1", "--port", str(port),
                   "--log-file", str(folder / "nx.log"), "--pid-file", str(folder / "nx.pid")]
        store = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL)
        served.wait_healthy(30)
        assert served.token("admin", ADMIN_PASSWORD)
        said = served.stderr
        assert "the store does not answer yet (attempt 1: ServerSelectionTimeoutError); retrying in" in said
    finally:
        served.stop()
        if store is not None:
            store.terminate()
            store.wait(10)
