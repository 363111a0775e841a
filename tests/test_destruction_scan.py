"""After a completed destruction a byte scan of the embedded store's own files (every file in its data
folder: the SQLite databases with their free pages, their -wal and -journal files, the server's log) finds
none of the destroyed values: the record's data (sensitive or not), the old and new values in its history,
its attachment's content."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from counterflow.store.embedded import EmbeddedServer
from conftest import add_staff, make_config, new_db_name, running_app, signed_in
from forms import COMPLETE
from test_destruction_helpers import approved, archived_record, fire, prepare


@pytest.fixture
def own_store() -> Iterator[tuple[str, Path]]:
    """A store server of this test's own, so that its folder holds only what this test wrote."""
    folder = Path(tempfile.mkdtemp(prefix="cf-scan-"))
    server = EmbeddedServer(folder)
    uri = server.start()
    try:
        yield uri, folder
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def scan(folder: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Which needles occur in which files of the folder, byte for byte."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for name, needle in needles.items():
            if needle in content:
                found.setdefault(name, []).append(path.name)
    return found


def test_no_destroyed_value_is_left_in_the_store_files(own_store: tuple[str, Path], tmp_path: Path) -> None:
    uri, folder = own_store
    config = dict(make_config(uri, new_db_name(), tmp_path), COUNTERFLOW_DESTRUCTION_COOLING_OFF_DAYS=0)
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        prepare(api)
        content = b"%PDF-1.4 ATTACHMENT-CONTENT-7Q3X-unique"
        record = archived_record(api, app, plate="京Z9Q8W7", file_content=content)
        needles = {"plate (history: new)": "京Z9Q8W7".encode(),
                   "plate (history: old)": record["first_plate"].encode(),
                   "email (not sensitive)": record["email"].encode(), "attachment content": content}
        store = app.extensions["counterflow"].store
        before = service_of(app).opened(store.records.find_one({"_id": record["id"]}))
        assert before["data"]["plate"] == "京Z9Q8W7"
        wrapped = store.records.find_one({"_id": record["id"]}).get("data_key")
        listed = approved(api, [record])
        assert fire(api, listed, "execute", "witness").status_code == 200
        service = app.extensions["counterflow"].service
        for _ in range(400):
            if service.disposal.certificate(f"cert_{listed['id']}") is not None:
                break
            time.sleep(0.025)
        assert service.disposal.certificate(f"cert_{listed['id']}") is not None
        store.db.command("ping")
        # the scan sees the store's files: what the tombstone keeps is there
        assert scan(folder, {"number": record["number"].encode()})["number"]
        # personal data sealed at rest (the name, the ID number) never reached the files in plain text
        assert scan(folder, {"id number": str(COMPLETE["id_number"]).encode(),
                             "name": str(COMPLETE["applicant"]).encode()}) == {}
        # the live tombstone holds no wrapped data key any more. An older page image of the record (SQLite's
        # -wal until a checkpoint; a real MongoDB's journal and backups) may still hold the wrapped key: it is
        # useless once the master key that wrapped it is retired (`counterflow keys rotate`, then drop the old
        # key), which is what makes those copies unreadable too
        assert "data_key" not in store.records.find_one({"_id": record["id"]})
        left = scan(folder, needles)
        if not wrapped:
            # without per-record data keys (issue 10, item 4) the other values were stored in plain text and
            # a deleted document's bytes stay in the store's -wal and free pages: erasure needs the record key
            assert set(left) <= set(needles) and not any(f.endswith(".log") for v in left.values() for f in v)
            pytest.xfail(f"no per-record data key: plain values left in {left}")
        assert left == {}


def service_of(app: Any) -> Any:
    return app.extensions["counterflow"].service
