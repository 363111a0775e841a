"""The embedded store: one nx-27017 process per data folder, joined by later users, data kept across restarts."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import pymongo
import pytest

from counterflow.store.embedded import LOG_FILE, PID_FILE, PORT_FILE, EmbeddedServer


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
