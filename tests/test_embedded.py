"""The embedded store: one nx-27017 process per data folder, joined by later users, data kept across restarts,
restarted by its owner when it dies."""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pymongo
import pymongo.errors
import pytest

from counterflow.store.embedded import LOG_FILE, PID_FILE, PORT_FILE, EmbeddedServer
from processes import alive as _alive


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path / "data")
    yield server
    server.stop()


def test_starts_on_a_free_loopback_port_and_writes_its_files(server: EmbeddedServer) -> None:
    uri = server.start()
    folder = server.data_dir
    port = int((folder / PORT_FILE).read_text())
    pid = int((folder / PID_FILE).read_text())
    assert uri == f"mongodb://127.0.0.1:{port}/" and server.owned
    assert server.process is not None and pid == server.process.pid and _alive(pid)
    assert (folder / LOG_FILE).exists() and (folder / "db").is_dir()
    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        assert client.admin.command("ping")["ok"] == 1
    finally:
        client.close()


def test_a_second_user_of_the_folder_joins_instead_of_starting_another(server: EmbeddedServer) -> None:
    uri = server.start()
    second = EmbeddedServer(server.data_dir)
    assert second.start() == uri
    assert not second.owned and second.process is None
    second.stop()                                          # a joiner never stops the owner's server
    assert server.running_uri() == uri


def test_stop_removes_the_files_and_ends_the_process(server: EmbeddedServer) -> None:
    server.start()
    pid = int((server.data_dir / PID_FILE).read_text())
    server.stop()
    assert _gone(pid)
    assert not (server.data_dir / PORT_FILE).exists() and not (server.data_dir / PID_FILE).exists()
    assert server.running_uri() is None and not server.owned
    server.stop()                                          # twice is harmless


def test_a_restart_keeps_the_data(server: EmbeddedServer) -> None:
    uri = server.start()
    client: pymongo.MongoClient = pymongo.MongoClient(uri, tz_aware=True)
    client.counterflow.records.insert_one({"_id": "01JREC", "data": {"shareholders": [{"name": "陈静"}]}})
    client.close()
    server.stop()
    uri = server.start()
    client = pymongo.MongoClient(uri, tz_aware=True)
    try:
        assert client.counterflow.records.find_one({"_id": "01JREC"}) == {
            "_id": "01JREC", "data": {"shareholders": [{"name": "陈静"}]}}
    finally:
        client.close()


def test_stale_files_from_a_dead_server_are_ignored(server: EmbeddedServer) -> None:
    folder = server.data_dir
    folder.mkdir(parents=True)
    (folder / PORT_FILE).write_text("1")
    (folder / PID_FILE).write_text("999999999")             # no such process
    uri = server.start()
    assert server.owned and uri != "mongodb://127.0.0.1:1/"
    assert int((folder / PID_FILE).read_text()) == server.process.pid  # type: ignore[union-attr]


# -- supervision -------------------------------------------------------------------------------------

def _wait(condition: Callable[[], bool], within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _messages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "counterflow.store.embedded")


def test_a_killed_server_is_restarted_on_the_same_port_with_every_acknowledged_write(
        server: EmbeddedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="counterflow.store.embedded")
    uri = server.start()
    first = server.process.pid  # type: ignore[union-attr]
    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        for n in range(50):
            client.counterflow.records.insert_one({"_id": f"R{n}", "n": n})       # each one acknowledged
        os.kill(first, signal.SIGKILL)
        assert _wait(lambda: server.restarts == 1)
        assert server.uri == uri and server.process is not None and server.process.pid != first
        assert int((server.data_dir / PID_FILE).read_text()) == server.process.pid
        assert int((server.data_dir / PORT_FILE).read_text()) == int(uri.rsplit(":", 1)[1].strip("/"))
        assert server.running_uri() == uri
        # the same client, on the same URI, reconnects by itself and finds everything
        assert sorted(d["n"] for d in client.counterflow.records.find()) == list(range(50))
    finally:
        client.close()
    said = _messages(caplog)
    assert f"(pid {first}, port {server.port}) died: killed by SIGKILL" in said
    assert "(attempt 1)" in said
    assert f"back on port {server.port} (pid {server.process.pid}, restart attempt 1" in said


def test_stop_is_not_taken_for_a_crash(server: EmbeddedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="counterflow.store.embedded")
    uri = server.start()
    watchdog = server._watchdog
    assert watchdog is not None and watchdog.is_alive()
    pid = server.process.pid  # type: ignore[union-attr]
    server.stop()
    assert _gone(pid) and not watchdog.is_alive()
    time.sleep(server.RETRY_FIRST + 1.0)                   # longer than a restart would take to begin
    assert server.restarts == 0 and server.process is None and server.running_uri() is None
    assert not _answers(uri)
    assert "died" not in _messages(caplog) and "restart" not in _messages(caplog)


def test_a_restart_waits_while_the_port_is_taken_and_says_so(
        server: EmbeddedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="counterflow.store.embedded")
    uri = server.start()
    port = server.port
    assert port is not None
    os.kill(server.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        assert _wait(lambda: _bound(squatter, port), within=2)
        squatter.listen(1)
        assert _wait(lambda: f"port {port} is taken by another process" in _messages(caplog), within=5)
        assert server.restarts == 0
    finally:
        squatter.close()
    assert _wait(lambda: server.restarts == 1, within=20)
    assert server.uri == uri and _answers(uri)
    said = _messages(caplog)
    assert "(attempt 2)" in said                           # back-off: tried again, counted


class _Patient(EmbeddedServer):
    RETRY_FIRST = RETRY_CAP = 2.0          # time for another process to take the folder between two attempts


class _Unlocked(EmbeddedServer):
    """A process that does not take the folder's lock (an older counterflow; a system without file locks)."""

    def __init__(self, data_dir: Path, **kw: Any) -> None:
        super().__init__(data_dir, **kw)
        self._lock_file.acquire = lambda: None  # type: ignore[method-assign]


def test_a_second_user_waits_for_the_owners_restart_instead_of_starting_its_own(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="counterflow.store.embedded")
    first = _Patient(tmp_path / "data")
    second = EmbeddedServer(tmp_path / "data")
    try:
        uri = first.start()
        os.kill(first.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        assert _wait(lambda: "died" in _messages(caplog), within=2)
        assert second.start() == uri and not second.owned       # joined the owner's server once it was back
        assert first.restarts == 1
        assert "the folder is held by another process" in _messages(caplog)
    finally:
        second.stop()
        first.stop()


def test_a_restart_refuses_while_another_process_serves_the_folder(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="counterflow.store.embedded")
    first = _Patient(tmp_path / "data")
    second = _Unlocked(tmp_path / "data", supervise=False)
    try:
        uri = first.start()
        os.kill(first.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        assert _wait(lambda: "died" in _messages(caplog), within=2)
        other = second.start()                             # finds the folder's server dead: starts its own
        assert other != uri and second.owned
        taken = f"another process started a server on this folder at {other}"
        assert _wait(lambda: taken in _messages(caplog), within=5)
        assert first.restarts == 0
        second.stop()
        assert _wait(lambda: first.restarts == 1, within=10) and _answers(uri)
    finally:
        second.stop()
        first.stop()


def test_a_start_that_fails_is_retried_with_back_off_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A live process named in the pid file makes nx-27017 refuse to start; once it is gone, we start."""
    caplog.set_level(logging.INFO, logger="counterflow.store.embedded")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / PID_FILE).write_text(str(os.getpid()))       # alive, but no store answers there
    server = EmbeddedServer(folder)
    clear = threading.Timer(1.5, lambda: (folder / PID_FILE).unlink())
    clear.start()
    began = time.monotonic()
    try:
        uri = server.start(timeout=20)
        assert _answers(uri) and server.owned and time.monotonic() - began >= 1.5
    finally:
        clear.cancel()
        server.stop()
    said = _messages(caplog)
    assert "did not start (attempt 1: exit code 1" in said and "retrying in" in said


def test_a_start_that_keeps_failing_gives_up_at_its_time_limit(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="counterflow.store.embedded")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / PID_FILE).write_text(str(os.getpid()))
    server = EmbeddedServer(folder)
    began = time.monotonic()
    with pytest.raises(RuntimeError, match=r"did not start within 3s \([2-9] attempt\(s\), last: "):
        server.start(timeout=3)
    assert time.monotonic() - began < 6 and not server.owned
    assert "did not start (attempt 1: exit code 1" in _messages(caplog)


def _bound(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def _answers(uri: str) -> bool:
    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()
