"""The destruction certificate: what it says (time, method, count, every tombstone, the approvers and the
supervisor with their names and roles as they were), signed with Ed25519 over its canonical bytes, so that
`counterflow certificates verify` fails on any one changed byte; kept in its own collection; printable."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from counterflow.cli import group
from counterflow.service.disposal import verify_certificate
from conftest import add_staff, make_config, running_app, signed_in
from test_destruction_helpers import approved, archived_record, fire, prepare
from test_pages import sign_in


@pytest.fixture(scope="module")
def done(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any, bytes]]:
    """One completed destruction of three records; shared by the module (its tests only read)."""
    from conftest import new_db_name

    config = dict(make_config(mongo_uri, new_db_name(), tmp_path_factory.mktemp("certificate")),
                  COUNTERFLOW_DESTRUCTION_COOLING_OFF_DAYS=0)
    with running_app(config) as app:
        api = add_staff(signed_in(app.test_client()))
        prepare(api)
        records = [archived_record(api, app) for _ in range(3)]
        listed = approved(api, records)
        assert fire(api, listed, "execute", "witness", "现场监销").status_code == 200
        for _ in range(400):
            r = api.get(f"/api/v1/destructions/{listed['id']}/certificate", "keeper")
            if r.status_code == 200:
                break
            time.sleep(0.025)
        assert r.status_code == 200, r.get_json()
        yield app, api, {"list": listed, "records": records}, r.get_data()


def test_the_certificate_names_what_was_destroyed_and_by_whom(done: Any) -> None:
    app, api, made, raw = done
    ok, said = verify_certificate(raw)
    assert ok, said
    import json

    certificate = json.loads(raw)["certificate"]
    assert certificate["count"] == 3 and certificate["method"]["code"] == "crypto_shredding"
    assert certificate["executed_at"] and certificate["completed_at"] >= certificate["executed_at"]
    numbers = sorted(r["number"] for r in made["records"])
    assert sorted(r["number"] for r in certificate["records"]) == numbers
    for tomb in certificate["records"]:
        assert tomb["retained_until"] == "2020-01-01"
        assert tomb["retention_basis"] == {"years": 5, "from": "archived"}
        assert tomb["form"] == "parking-permit" and tomb["list"] == made["list"]["id"]
        assert tomb["destroyed_at"]
        assert "data" not in tomb
    people = [(a["username"], a["roles"]) for a in certificate["approvers"]]
    assert people == [("boss", ["manager"]), ("head", ["dept_head"])]
    assert certificate["supervisor"]["username"] == "witness"
    assert certificate["supervisor"]["roles"] == ["supervisor"]
    assert certificate["supervisor"]["opinion"] == "现场监销"
    assert certificate["author"]["username"] == "keeper"
    # a permanent record of its own: in its collection, not among the records a list could destroy
    store = app.extensions["counterflow"].store
    assert store.db["destruction_certificates"].count_documents({"list": made["list"]["id"]}) == 1
    assert store.records.find_one({"_id": certificate["id"]}) is None


def test_every_single_changed_byte_is_detected(done: Any) -> None:
    raw = done[3]
    assert verify_certificate(raw)[0]
    missed = [i for i in range(len(raw))
              if verify_certificate(raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:])[0]]
    assert missed == []
    assert not verify_certificate(raw[:-1])[0] and not verify_certificate(raw + b" ")[0]


def test_counterflow_certificates_verify(done: Any, tmp_path: Path) -> None:
    raw = done[3]
    good = tmp_path / "certificate.json"
    good.write_bytes(raw)
    result = CliRunner().invoke(group, ["certificates", "verify", str(good)])
    assert result.exit_code == 0 and "verifies: 3 record(s) destroyed" in result.output
    at = raw.index(b'"count":3') + len(b'"count":')
    bad = tmp_path / "changed.json"
    bad.write_bytes(raw[:at] + b"4" + raw[at + 1:])
    result = CliRunner().invoke(group, ["certificates", "verify", str(bad)])
    assert result.exit_code == 1
    assert "NOT VALID" in result.output and "changed" in result.output
    # with the key the verifier expects: another key's certificate is refused
    key = tmp_path / "key.pem"
    key.write_text(done[0].extensions["counterflow"].service.certificate_signer().public_key_pem())
    result = CliRunner().invoke(group, ["certificates", "verify", str(good), "--public-key", str(key)])
    assert result.exit_code == 0
    from counterflow.security.signing import Signer

    other = tmp_path / "other.pem"
    other.write_text(Signer.from_settings(None, "another secret").public_key_pem())
    result = CliRunner().invoke(group, ["certificates", "verify", str(good), "--public-key", str(other)])
    assert result.exit_code == 1 and "another key" in result.output


def test_the_printable_certificate_and_the_lists_page(done: Any) -> None:
    app, api, made, raw = done
    client = app.test_client()
    assert sign_in(client, "keeper").status_code == 302
    page = client.get(f"/admin/destructions/{made['list']['id']}/certificate?lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for word in ("Certificate of destruction", "Boss", "Head", "Witness", "dept_head", "supervisor", "现场监销",
                 *(r["number"] for r in made["records"])):
        assert word in text, word
    lists = client.get("/admin/destructions?lang=en")
    assert lists.status_code == 200 and "3/3" in lists.get_data(as_text=True)
    clerk = app.test_client()
    assert sign_in(clerk, "clerk").status_code == 302
    assert clerk.get("/admin/destructions").status_code == 403
