"""Round trips on the hot paths, counted with a pymongo CommandListener on a real store: a draft is one
insert (the published version and its validator come from the process's caches), attachments add one
`$in`, an accept stays at three; and a version published on another host is used within the cache's TTL."""
from __future__ import annotations

import threading
import time
from typing import Any, Iterator

import pytest
from pymongo import monitoring

from conftest import Api, running_app
from forms import COMPLETE, publish, upload


class Commands(monitoring.CommandListener):
    """The store commands the calling thread sends to one database while `recording` (the app's
    background copier and other tests' clients are left out)."""

    def __init__(self) -> None:
        self.db = ""
        self.thread = 0
        self.seen: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.db and event.database_name == self.db and threading.get_ident() == self.thread:
            self.seen.append((f"{event.command_name} {event.command.get(event.command_name)}", event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


LISTENER = Commands()
monitoring.register(LISTENER)          # at import, before any app's client exists; inert until recording


@pytest.fixture
def commands(app: Any) -> Iterator[Commands]:
    LISTENER.seen = []
    LISTENER.thread = threading.get_ident()
    yield LISTENER
    LISTENER.db = ""


FORM = "parking-permit"


def draft(api: Api, data: dict[str, Any], who: str = "clerk") -> Any:
    return api.post("/api/v1/records", who, json={"form": FORM, "data": data})


def record(commands: Commands, app: Any, action: Any) -> Any:
    commands.seen = []
    commands.db = app.extensions["counterflow"].store.db.name
    try:
        return action()
    finally:
        commands.db = ""


def test_a_draft_without_attachments_is_one_insert(app: Any, staff: Api, commands: Commands) -> None:
    publish(staff)
    app.extensions["counterflow"].service.published_ttl = 60.0
    first = draft(staff, COMPLETE)
    assert first.status_code == 201, first.get_json()          # the caches are filled here
    r = record(commands, app, lambda: draft(staff, COMPLETE))
    assert r.status_code == 201, r.get_json()
    assert commands.names() == ["insert records"]
    stored = app.extensions["counterflow"].store.record(r.get_json()["id"])
    assert stored["form_version"] == 1 and stored["state"] == "draft" and stored["outbox"]["r0"]["at"]
    assert stored["created_at"] == stored["updated_at"] == stored["state_since"]
    assert stored["created_at"] == stored["outbox"]["r0"]["at"]


def test_a_draft_with_an_attachment_checks_it_with_one_in_query(
        app: Any, staff: Api, commands: Commands) -> None:
    publish(staff)
    app.extensions["counterflow"].service.published_ttl = 60.0
    assert draft(staff, COMPLETE).status_code == 201
    file_id = upload(staff)
    r = record(commands, app, lambda: draft(staff, dict(COMPLETE, licence_copy=file_id)))
    assert r.status_code == 201, r.get_json()
    assert commands.names() == ["find attachments", "update attachments", "insert records"]
    assert commands.seen[0][1]["filter"] == {"_id": {"$in": [file_id]}}
    # a missing one is refused by the same single query, and nothing is written
    missing = "att_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    r = record(commands, app, lambda: draft(staff, dict(COMPLETE, licence_copy=missing)))
    assert r.status_code == 422 and commands.names() == ["find attachments"]


def test_an_accept_is_at_most_three_round_trips(app: Any, staff: Api, commands: Commands) -> None:
    publish(staff)
    data = dict(COMPLETE, licence_copy=upload(staff))
    first, second = (draft(staff, data).get_json() for _ in range(2))
    # the day's first accept also creates the day's counter (two commands more, once a day)
    assert staff.post(f"/api/v1/records/{first['id']}/transitions/accept", "clerk",
                      json={"revision": 0}).status_code == 200
    r = record(commands, app, lambda: staff.post(f"/api/v1/records/{second['id']}/transitions/accept",
                                                 "clerk", json={"revision": 0}))
    assert r.status_code == 200, r.get_json()
    assert len(commands.names()) <= 3, commands.names()
    assert commands.names()[-1] == "update records"
    stored = app.extensions["counterflow"].store.record(second["id"])
    assert stored["updated_at"] == stored["accepted_at"] == stored["outbox"]["r1"]["at"]


def test_a_version_published_on_another_host_is_used_within_the_ttl(
        app: Any, config: dict[str, Any], staff: Api) -> None:
    publish(staff)
    here = app.extensions["counterflow"].service
    here.published_ttl = 0.5
    new = {"form": "parking-permit", "data": COMPLETE}
    assert staff.post("/api/v1/records", "clerk", json=new).get_json()["form_version"] == 1

    with running_app(dict(config)) as other_app:          # a second host on the same database
        other = Api(other_app.test_client())
        other.tokens = staff.tokens                        # the same secret: the same tokens
        r = other.post("/api/v1/forms/parking-permit/versions", "admin")
        assert r.status_code == 201, r.get_json()
        version = r.get_json()
        assert other.post("/api/v1/records", "clerk", json=new).get_json()["form_version"] == 1
        base = "/api/v1/forms/parking-permit/versions/2/transitions"
        published_at = time.monotonic()
        for trigger, who in (("submit", "admin"), ("review", "head"), ("approve", "boss")):
            r = other.post(f"{base}/{trigger}", who, json={"revision": version["revision"]})
            assert r.status_code == 200, r.get_json()
            version = r.get_json()
        assert version["state"] == "published"
        # the host that published it uses it at once
        assert other.post("/api/v1/records", "clerk", json=new).get_json()["form_version"] == 2
        # this host within the TTL: still 1 if its copy is fresh, never later than the TTL
        seen = staff.post("/api/v1/records", "clerk", json=new).get_json()["form_version"]
        assert seen == 2 or time.monotonic() - published_at < here.published_ttl
        time.sleep(here.published_ttl)
        assert staff.post("/api/v1/records", "clerk", json=new).get_json()["form_version"] == 2


def test_the_published_version_is_cached_and_read_again_after_the_ttl(
        app: Any, staff: Api, commands: Commands) -> None:
    publish(staff)
    service = app.extensions["counterflow"].service
    service.published_ttl = 0.3
    assert record(commands, app, lambda: service.published_version("parking-permit"))["version"] == 1
    assert commands.names() == ["find form_versions"]
    assert record(commands, app, lambda: service.published_version("parking-permit"))["version"] == 1
    assert commands.names() == []
    time.sleep(0.3)
    assert record(commands, app, lambda: service.published_version("parking-permit"))["version"] == 1
    assert commands.names() == ["find form_versions"]
    # an unknown key is asked for every time, never remembered
    assert service.published_version("no-such-form") is None
    assert "no-such-form" not in service._published


def test_opened_data_is_remembered_only_while_its_ciphertext_is_the_same(
        app: Any, config: dict[str, Any], staff: Api) -> None:
    publish(staff)
    service = app.extensions["counterflow"].service
    created = draft(staff, COMPLETE).get_json()
    stored = app.extensions["counterflow"].store.record(created["id"])
    assert stored["data"]["phone"] != COMPLETE["phone"]                     # sealed at rest
    assert service._opened[created["id"]][1]["phone"] == COMPLETE["phone"]   # known from the create
    assert service.opened(stored)["data"]["phone"] == COMPLETE["phone"]

    with running_app(dict(config)) as other_app:          # another host changes the data
        other = Api(other_app.test_client())
        other.tokens = staff.tokens
        r = other.patch(f"/api/v1/records/{created['id']}", "clerk",
                        json={"revision": 0, "data": dict(COMPLETE, phone="13900001111")})
        assert r.status_code == 200, r.get_json()
        # this host sees a new ciphertext, so it opens it again: never the remembered text
        again = service.opened(app.extensions["counterflow"].store.record(created["id"]))
        assert again["data"]["phone"] == "13900001111" and again["revision"] == 1
        shown = staff.get(f"/api/v1/records/{created['id']}", "clerk").get_json()
        assert shown["revision"] == 1 and shown["data"]["phone"].endswith("1111"), shown["data"]
