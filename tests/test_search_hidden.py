"""Searching records by a protected value (`?id_number=`, `?phone=`) is no oracle for a field hidden from the
searcher: a record whose matched field `x-visible-to` or an approval step's `fields.hidden` hides from them is
left out of the results (the same answer as no match), and the list's pages stay full and complete past the
records left out. Whoever sees the field still finds the record."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Api
from forms import COMPLETE, permit, publish
from test_field_rights import _in_step, step_world

ID = COMPLETE["id_number"]
PHONE = COMPLETE["phone"]


def _found(api: Api, who: str, query: str) -> list[str]:
    r = api.get(f"/api/v1/records?{query}", who)
    assert r.status_code == 200, r.get_json()
    return [item["id"] for item in r.get_json()["items"]]


@pytest.fixture
def hidden_id(staff: Api) -> Api:
    """`hidden-id`: the permit whose ID number only managers see, the plain permit; `chief` (clerk and
    manager) fills them."""
    form = permit(key="hidden-id")
    form["schema"]["properties"]["id_number"]["x-visible-to"] = ["manager"]
    del form["schema"]["properties"]["licence_copy"]
    publish(staff, form)
    plain = permit()
    del plain["schema"]["properties"]["licence_copy"]
    publish(staff, plain)
    staff.add_user("chief", ["clerk", "manager"])
    return staff


def _create(api: Api, form: str) -> str:
    r = api.post("/api/v1/records", "chief", json={"form": form, "data": dict(COMPLETE)})
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["id"])


def test_a_search_by_a_field_hidden_by_x_visible_to_finds_nothing(hidden_id: Api) -> None:
    api = hidden_id
    rid = _create(api, "hidden-id")
    assert _found(api, "chief", f"id_number={ID}") == [rid]              # a manager sees the field
    assert _found(api, "clerk", "form=hidden-id") == [rid]              # the clerk sees the record...
    assert _found(api, "clerk", f"id_number={ID}") == []                # ...but the ID number is no oracle
    assert _found(api, "clerk", f"id_number={ID}&phone={PHONE}") == []
    assert _found(api, "clerk", f"phone={PHONE}") == [rid]              # a field they see still finds it
    assert _found(api, "clerk", "id_number=110105199001019999") == []  # the same answer as no match


def test_the_pages_of_a_search_go_on_past_the_records_left_out(hidden_id: Api) -> None:
    api = hidden_id
    order = ["parking-permit", "hidden-id", "hidden-id", "parking-permit", "hidden-id", "parking-permit"]
    made = [(_create(api, form), form) for form in order]
    shown = [rid for rid, form in reversed(made) if form == "parking-permit"]      # newest first
    pages, cursor = [], None
    while True:
        page = f"/api/v1/records?id_number={ID}&limit=1" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(page, "clerk")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if not cursor:
            break
        assert len(pages) < 10
    assert pages == [[rid] for rid in shown]                           # full pages, none empty, none extra
    r = api.get(f"/api/v1/records?id_number={ID}&limit=2", "clerk").get_json()
    assert [item["id"] for item in r["items"]] == shown[:2] and r["next_cursor"] == shown[1]
    assert len(_found(api, "chief", f"id_number={ID}&limit=100")) == len(order)


@pytest.fixture
def in_step(tmp_path: Path, config: dict[str, Any]) -> Iterator[Api]:
    with step_world(tmp_path, config) as (_, api):
        yield api


def test_a_search_by_a_field_the_approval_step_hides_finds_nothing_for_its_people(in_step: Api) -> None:
    api = in_step
    rid = _in_step(api)["id"]
    assert "id_number" not in api.get(f"/api/v1/records/{rid}", "a1").get_json()["data"]
    assert _found(api, "a1", "form=amount-permit") == [rid]
    assert _found(api, "a1", f"id_number={ID}") == []                   # the step hides it from a1
    assert _found(api, "a1", f"phone={PHONE}") == [rid]
    assert _found(api, "head", f"id_number={ID}") == [rid]              # not the step's: sees the field
