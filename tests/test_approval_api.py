"""Approval steps with several people through the API (issue 8, item 2): 会签 with a send-back, 依次 with a
transfer, a delegation and an added approver, 或签, a vote ratio, withdraw, copy and urge; separation of duties
through all of them. The process is an admin's YAML file: no code names any of its states or triggers."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Api, add_staff, running_app, signed_in, stored_record
from forms import COMPLETE, permit, publish

COUNCIL = """\
key: council
title: {zh-CN: 会审, en: Council}
initial: pending
states:
  - {name: pending, title: {zh-CN: 待准备, en: Pending}}
  - {name: prepared, title: {zh-CN: 已准备, en: Prepared}}
  - name: joint
    title: {zh-CN: 会签, en: Joint review}
    approval:
      mode: all
      approvers: [{users: [r1, r2, r3]}, {users: [r1]}]
      approve: agree
      reject: disagree
      urge_interval_minutes: 30
  - name: chain
    title: {zh-CN: 依次审批, en: In turn}
    approval: {mode: sequence, approvers: [{users: [s1, s2]}], approve: pass_chain, reject: fail_chain}
  - name: either
    title: {zh-CN: 或签, en: Any one}
    approval: {mode: any, approvers: [{role: manager, department: board}], approve: agree, reject: disagree,
               opinion: optional, fields: {hidden: [/id_number]}}
  - name: vote
    title: {zh-CN: 表决, en: Vote}
    approval: {mode: ratio, ratio: 2/3, approvers: [{users: [r1, r2, r3]}], approve: agree, reject: disagree}
  - {name: done, title: {zh-CN: 通过, en: Done}, final: true}
  - {name: refused, title: {zh-CN: 不通过, en: Refused}, final: true}
transitions:
  - {trigger: prepare, source: pending, dest: prepared, roles: [dept_head]}
  - {trigger: to_joint, source: prepared, dest: joint, roles: [dept_head]}
  - {trigger: to_either, source: prepared, dest: either, roles: [dept_head]}
  - {trigger: to_vote, source: prepared, dest: vote, roles: [dept_head]}
  - {trigger: agree, source: joint, dest: chain, roles: [reviewer], duty: reviewer,
     separate_from: [creator, acceptor, approver], requires: [opinion]}
  - {trigger: agree, source: [either, vote], dest: done, roles: [reviewer, manager], duty: reviewer,
     separate_from: [creator, acceptor, approver]}
  - {trigger: disagree, source: [joint, either, vote], dest: refused, roles: [reviewer, manager],
     duty: reviewer, separate_from: [creator, acceptor, approver]}
  - {trigger: pass_chain, source: chain, dest: done, roles: [manager], duty: approver,
     separate_from: [creator, acceptor, reviewer]}
  - {trigger: fail_chain, source: chain, dest: refused, roles: [manager], duty: approver,
     separate_from: [creator, acceptor, reviewer]}
"""
PEOPLE = (("r1", ["reviewer"], "counter-1"), ("r2", ["reviewer"], "counter-1"),
          ("r3", ["reviewer"], "review"),
          ("s1", ["manager"], "board"), ("s2", ["manager"], "board"), ("s3", ["manager"], "board"),
          ("s4", ["manager"], "office"), ("s5", ["manager"], "office"))


@pytest.fixture
def world(tmp_path: Path, config: dict[str, Any]) -> Iterator[tuple[Any, Api, dict[str, str]]]:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "council.yaml").write_text(COUNCIL, "utf-8")
    with running_app({**config, "COUNTERFLOW_WORKFLOWS_DIR": str(folder)}) as app:
        api = add_staff(signed_in(app.test_client()))
        for name, roles, department in PEOPLE:
            api.add_user(name, roles, department)
        form = permit(key="council-permit",
                      settings={**permit()["settings"], "processes": ["intake", "council"]})
        del form["schema"]["properties"]["licence_copy"]
        publish(api, form)
        ids = {u["username"]: u["id"] for u in api.get("/api/v1/users", "admin").get_json()["items"]}
        yield app, api, ids


def _new(api: Api, **data: Any) -> dict[str, Any]:
    r = api.post("/api/v1/records", "clerk", json={"form": "council-permit", "data": dict(COMPLETE, **data)})
    assert r.status_code == 201, r.get_json()
    record = _fire(api, r.get_json(), "accept", "clerk")
    assert (record["process"], record["state"]) == ("council", "pending")
    return _fire(api, record, "prepare", "head")


def _fire(api: Api, record: dict[str, Any], trigger: str, who: str, **extra: Any) -> dict[str, Any]:
    r = api.post(f"/api/v1/records/{record['id']}/transitions/{trigger}", who,
                 json={"revision": record["revision"], **extra})
    assert r.status_code == 200, (trigger, who, r.get_json())
    return dict(r.get_json())


def _act(api: Api, record: dict[str, Any], action: str, who: str, **extra: Any) -> Any:
    body = {"revision": record["revision"], **extra}
    if action in ("approve", "reject"):
        body.setdefault("digest", record["data_digest"])
    return api.post(f"/api/v1/records/{record['id']}/approval/{action}", who, json=body)


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _tasks(record: dict[str, Any], ids: dict[str, str]) -> list[tuple[str, str]]:
    names = {v: k for k, v in ids.items()}
    return [(names[t["user"]], t["state"]) for t in record["tasks"]]


def _event_at(app: Any, record: dict[str, Any]) -> dict[str, Any]:
    """The stored event of the record's current revision, with every field (the notify field included)."""
    store = app.extensions["counterflow"].store
    return next(e for e in store.history(record["id"]) if e.get("revision") == record["revision"]
                and e.get("outcome") == "done")


def _history(api: Api, record: dict[str, Any]) -> list[dict[str, Any]]:
    return api.get(f"/api/v1/records/{record['id']}/history", "head").get_json()["items"]


def test_joint_review_of_three_sent_back_then_all_approve_then_in_turn_with_transfer_delegation_and_added(
        world: tuple[Any, Api, dict[str, str]]) -> None:
    app, api, ids = world
    record = _fire(api, _new(api), "to_joint", "head")
    # three tasks: r1 named twice is one approver
    assert record["state"] == "joint"
    assert _tasks(record, ids) == [("r1", "pending"), ("r2", "pending"), ("r3", "pending")]
    record = _ok(_act(api, record, "approve", "r1", opinion="同意"))
    assert record["state"] == "joint" and _tasks(record, ids)[0] == ("r1", "done")
    # a second vote by the same person is not counted: the step no longer waits for them
    again = _act(api, record, "approve", "r1", opinion="再次同意")
    assert again.status_code == 403 and again.get_json()["error"]["code"] == "not_holder"
    # the opinion is bound to the data reviewed: another digest is stale
    stale = _act(api, record, "approve", "r2", opinion="同意", digest="0" * 64)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale_data"
    # 退回: r2 chooses an earlier state this record passed, with the reason
    step = api.get(f"/api/v1/records/{record['id']}/approval", "r2").get_json()
    assert step["mode"] == "all" and set(step["send_back_to"]) >= {"pending", "prepared"}
    assert _act(api, record, "send_back", "r2", to="done", opinion="x").status_code == 422
    record = _ok(_act(api, record, "send_back", "r2", to="prepared", opinion="请补充现场照片"))
    assert record["state"] == "prepared"
    returned = _history(api, record)[-1]
    assert returned["trigger"] == "send_back" and returned["opinion"] == "请补充现场照片"
    # it returns: a fresh step, every vote of the earlier round gone; all three approve
    record = _fire(api, record, "to_joint", "head")
    assert [s for _, s in _tasks(record, ids)] == ["pending"] * 3
    for who in ("r3", "r1"):
        record = _ok(_act(api, record, "approve", who, opinion=f"{who} 同意"))
        assert record["state"] == "joint"
    record = _ok(_act(api, record, "approve", "r2", opinion="r2 同意"))
    assert record["state"] == "chain"
    decided = [e for e in _history(api, record) if e["trigger"] == "agree"]
    assert [(e["actor"]["username"], e["opinion"]) for e in decided] == [
        ("r1", "同意"), ("r3", "r3 同意"), ("r1", "r1 同意"), ("r2", "r2 同意")]
    assert decided[-1]["to"] == "chain" and decided[-1]["details"]["outcome"] == "approve"
    stored = stored_record(app, record["id"])
    assert sorted(stored["duties"]["reviewer"]) == sorted([ids["r1"], ids["r2"], ids["r3"]])

    # 依次: s1 then s2; s2 may not act before s1
    assert _tasks(record, ids) == [("s1", "pending"), ("s2", "pending")]
    assert _act(api, record, "approve", "s2", opinion="同意").status_code == 403
    # 转办 to a reviewer of the first step is refused: one person never plays two separated parts
    refused = _act(api, record, "transfer", "s1", to=ids["r1"])
    assert refused.status_code == 422 and refused.get_json()["error"]["details"][0]["code"] == \
        "separation_of_duties"
    record = _ok(_act(api, record, "transfer", "s1", to=ids["s3"]))
    assert _tasks(record, ids) == [("s3", "pending"), ("s2", "pending")]
    assert _act(api, record, "approve", "s1", opinion="同意").status_code == 403
    # 委派: s4 works on it, the decision comes back to s3
    record = _ok(_act(api, record, "delegate", "s3", to=ids["s4"]))
    assert _tasks(record, ids)[0] == ("s3", "delegated")
    assert _act(api, record, "approve", "s3", opinion="同意").status_code == 403
    record = _ok(_act(api, record, "approve", "s4", opinion="经核实无误"))     # s4 is in another department
    assert record["state"] == "chain" and _tasks(record, ids)[0] == ("s3", "pending")
    record = _ok(_act(api, record, "approve", "s3", opinion="同意"))
    # 加签: s2 adds s5 before themself
    assert _act(api, record, "add_approver", "s2", to=ids["s3"], position="before").status_code == 409
    record = _ok(_act(api, record, "add_approver", "s2", to=ids["s5"], position="before"))
    assert _tasks(record, ids) == [("s3", "done"), ("s5", "pending"), ("s2", "pending")]
    assert _act(api, record, "approve", "s2", opinion="同意").status_code == 403
    record = _ok(_act(api, record, "approve", "s5", opinion="同意"))
    record = _ok(_act(api, record, "approve", "s2", opinion="同意"))
    assert record["state"] == "done"
    votes = stored_record(app, record["id"])["approval"]["chain"]["votes"]
    assert sorted(votes) == sorted([ids["s3"], ids["s5"], ids["s2"]])
    chain = stored_record(app, record["id"])["approval"]["chain"]
    assert chain["tasks"][ids["s3"]]["advice"]["by"] == ids["s4"]
    last = _history(api, record)[-1]
    assert last["to"] == "done"
    notify = _event_at(app, record)["notify"]
    assert notify["kind"] == "decided" and ids["clerk"] in notify["to"]


def test_any_one_decides_and_a_ratio_of_two_thirds(world: tuple[Any, Api, dict[str, str]]) -> None:
    app, api, ids = world
    # 或签: the managers of the board; the first decision decides
    record = _fire(api, _new(api), "to_either", "head")
    assert {n for n, _ in _tasks(record, ids)} == {"s1", "s2", "s3"}
    # the step's people do not see the field it hides; others still do (masked); the digest is the same
    seen = api.get(f"/api/v1/records/{record['id']}", "s1").get_json()
    assert "id_number" not in seen["data"] and "applicant" in seen["data"]
    assert "id_number" in api.get(f"/api/v1/records/{record['id']}", "head").get_json()["data"]
    assert seen["data_digest"] == record["data_digest"]
    record = _ok(_act(api, record, "approve", "s2"))
    assert record["state"] == "done"
    # ratio 2/3 of three: one reject does not decide, two approvals pass
    record = _fire(api, _new(api), "to_vote", "head")
    record = _ok(_act(api, record, "reject", "r1", opinion="不同意"))
    assert record["state"] == "vote"
    record = _ok(_act(api, record, "approve", "r2", opinion="同意"))
    assert record["state"] == "vote"
    record = _ok(_act(api, record, "approve", "r3", opinion="同意"))
    assert record["state"] == "done"
    # two rejects out of three: two approvals can no longer be reached
    record = _fire(api, _new(api), "to_vote", "head")
    record = _ok(_act(api, record, "reject", "r1", opinion="不同意"))
    record = _ok(_act(api, record, "reject", "r3", opinion="不同意"))
    assert record["state"] == "refused"
    # an opinion is required by default
    record = _fire(api, _new(api), "to_vote", "head")
    r = _act(api, record, "approve", "r1")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["path"] == "/opinion"


def test_withdraw_only_while_nobody_acted_copy_lets_others_read_and_urge_once_per_interval(
        world: tuple[Any, Api, dict[str, str]]) -> None:
    app, api, ids = world
    record = _fire(api, _new(api), "to_joint", "head")
    # 撤回 by someone else: refused; by the submitter before anyone acted: back where it came from
    assert _act(api, record, "withdraw", "r1").status_code == 403
    record = _ok(_act(api, record, "withdraw", "head"))
    assert record["state"] == "prepared"
    record = _fire(api, record, "to_joint", "head")
    record = _ok(_act(api, record, "approve", "r1", opinion="同意"))
    r = _act(api, record, "withdraw", "head")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "acted"
    # 抄送: the outsider (another department) may read it once copied, and their reading is recorded
    assert api.get(f"/api/v1/records/{record['id']}", "outsider").status_code == 403
    record = _ok(_act(api, record, "copy", "r2", users=[ids["outsider"]]))
    for _ in range(2):
        assert api.get(f"/api/v1/records/{record['id']}", "outsider").status_code == 200
    history = _history(api, record)
    copied = next(e for e in history if e["trigger"] == "copy")
    assert copied["details"]["to"] == [ids["outsider"]]
    assert [e["actor"]["username"] for e in history if e["trigger"] == "read"] == ["outsider"]
    # 催办: once per interval, the second inside it is refused with when to try again
    record = _ok(_act(api, record, "urge", "clerk"))
    notify = _event_at(app, record)["notify"]
    assert notify == {"kind": "urged", "to": sorted([ids["r2"], ids["r3"]])}
    again = _act(api, record, "urge", "clerk")
    assert again.status_code == 429 and "30" in again.get_json()["error"]["message"]
    assert _act(api, record, "urge", "r2").status_code == 403         # holders do not urge themselves
    # the listing says what the caller may do now
    options = api.get(f"/api/v1/records/{record['id']}/transitions", "r2").get_json()["items"]
    allowed = {o["trigger"] for o in options if o["allowed"]}
    assert {"agree", "disagree", "approval/send_back", "approval/transfer", "approval/copy"} <= allowed
    assert "approval/withdraw" not in allowed
    options = api.get(f"/api/v1/records/{record['id']}/transitions", "r1").get_json()["items"]
    assert not next(o for o in options if o["trigger"] == "agree")["allowed"]


def test_hostile_approval_input_is_refused_without_a_500(world: tuple[Any, Api, dict[str, str]]) -> None:
    app, api, ids = world
    record = _fire(api, _new(api), "to_joint", "head")
    path = f"/api/v1/records/{record['id']}/approval"
    assert api.post(f"{path}/teleport", "r1", json={"revision": record["revision"]}).status_code == 404
    no_digest = api.post(f"{path}/approve", "r1", json={"revision": record["revision"], "opinion": "x"})
    assert no_digest.status_code == 422
    assert api.post(f"{path}/transfer", "r1", json={"revision": record["revision"],
                                                    "to": {"$ne": None}}).status_code == 422
    assert api.post(f"{path}/transfer", "r1", json={"revision": record["revision"],
                                                    "to": "a.b"}).status_code == 422
    assert api.post(f"{path}/copy", "r1", json={"revision": record["revision"],
                                                "users": ["nobody"]}).status_code == 422
    assert api.post(f"{path}/approve", "r1", json={"revision": record["revision"] - 1, "opinion": "x",
                                                   "digest": record["data_digest"]}).status_code == 409
    before = stored_record(app, record["id"])
    assert before["revision"] == record["revision"]
