"""Sanity of the form definitions shipped in schemas/: real JSON Schema, real records."""
import copy
import json
from importlib import resources
from typing import Any

import jsonschema_rs
import pytest

ID_CARD = "11010519491231002X"
OTHER_ID_CARD = "310104198805063216"
ATTACHMENT = "att_01JD3Z6Q8W4X5Y6Z7A8B9C0D1E"  # an uploaded file's id

SAMPLES: dict[str, dict[str, Any]] = {
    "account-change": {
        "applicant_name": "王小明",
        "id_type": "resident_id",
        "id_number": ID_CARD,
        "bank_card": "6222020200112233445",
        "phone": "13800138000",
        "changed_items": ["phone", "address", "daily_limit"],
        "new_details": {"new_phone": "13912345678", "new_address": "上海市徐汇区漕溪北路 100 号 5 室"},
        "amount": 80000,
        "reason": "更换手机号并搬家，提高转账限额以支付房款",
        "id_copy": ATTACHMENT,
        "application_date": "2026-11-20",
    },
    "certificate-application": {
        "certificate_type": "deposit",
        "applicant_name": "李华",
        "id_number": ID_CARD,
        "phone": "13800138000",
        "account_number": "6217000010012345678",
        "as_of_date": "2026-11-20",
        "purpose": "visa",
        "language": "zh_en",
        "copies": 2,
        "applicant_id_copy": ATTACHMENT,
        "by_agent": True,
        "agent_name": "李强",
        "agent_id_number": OTHER_ID_CARD,
        "agent_phone": "13900139000",
        "agent_id_copy": ATTACHMENT,
        "authorisation_letter": ATTACHMENT,
        "application_date": "2026-11-20",
    },
    "business-licence": {
        "company_name": "杭州青禾数据科技有限公司",
        "company_type": "limited_liability",
        "registered_capital": 500,
        "address": "浙江省杭州市西湖区文三路 90 号 8 楼 801 室",
        "legal_representative": {"name": "陈静", "id_number": ID_CARD, "phone": "13800138000"},
        "business_scope": "一般项目：技术服务、技术开发、技术咨询；软件开发；数据处理服务。",
        "shareholders": [
            {"name": "陈静", "id_number": ID_CARD, "contribution": 300, "share_percent": 60},
            {"name": "赵磊", "id_number": OTHER_ID_CARD, "contribution": 200, "share_percent": 40},
        ],
        "contact_email": "office@qinghe.example.com",
        "articles_of_association": ATTACHMENT,
        "premises_proof": ATTACHMENT,
        "legal_rep_id_copy": ATTACHMENT,
        "application_date": "2026-11-20",
    },
    "complaint": {
        "channel": "authority",
        "authority_name": "国家金融监督管理总局某分局",
        "complainant_name": "张三丰",
        "complainant_phone": "13800138000",
        "complainant_id_number": ID_CARD,
        "level": "regional",
        "subject": "柜台办理挂失时收取了不应收取的手续费，且服务态度生硬",
        "received_date": "2026-11-20",
        "materials": ATTACHMENT,
        "fault": "counter_fee",
    },
}

# Each bad record breaks several rules at once; every one must be reported (一次性告知).
BAD: dict[str, tuple[dict[str, Any], set[str]]] = {
    "account-change": (
        {"id_number": "123456", "phone": "1380013800", "changed_items": ["name", "daily_limit"],
         "new_details": {"new_email": "not-an-email"}, "amount": 1200.5, "application_date": "2026-02-30",
         "nickname": "x"},
        {"/id_number", "/phone", "/new_details", "/amount", "/new_details/new_email",
         "/application_date", ""},
    ),
    "certificate-application": (
        {"copies": 11, "purpose": "other", "agent_id_number": "11010519491231002Y",
         "agent_phone": None, "authorisation_letter": None},
        {"/copies", "/agent_id_number", ""},  # missing fields are reported at the object: ""
    ),
    "business-licence": (
        {"registered_capital": 12.5, "shareholders": [], "legal_representative": {"name": "陈静"},
         "contact_email": "office@"},
        {"/registered_capital", "/shareholders", "/legal_representative", "/contact_email"},
    ),
    "complaint": (
        {"channel": "email", "complainant_phone": "12345", "level": "branch", "fault": "counter_mood",
         "received_date": "2026-13-01", "subject": None, "nickname": "x"},
        {"/channel", "/complainant_phone", "/level", "/fault", "/received_date", ""},
    ),
}


def load(key: str) -> dict[str, Any]:
    text = resources.files("counterflow.schemas").joinpath(f"{key}.json").read_text("utf-8")
    return json.loads(text)


def validator(key: str) -> Any:
    return jsonschema_rs.validator_for(load(key)["schema"], validate_formats=True)


def error_paths(key: str, record: dict[str, Any]) -> set[str]:
    return {"/" + "/".join(map(str, error.instance_path)) if error.instance_path else ""
            for error in validator(key).iter_errors(record)}


@pytest.mark.parametrize("key", SAMPLES)
def test_form_is_well_formed_json_named_for_its_file(key):
    assert load(key)["key"] == key


@pytest.mark.parametrize("key", SAMPLES)
def test_schema_is_valid_draft_2020_12(key):
    schema = load(key)["schema"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema_rs.meta.validate(schema)
    assert isinstance(jsonschema_rs.validator_for(schema), jsonschema_rs.Draft202012Validator)


@pytest.mark.parametrize("key", SAMPLES)
def test_realistic_record_validates_clean(key):
    assert list(validator(key).iter_errors(SAMPLES[key])) == []


@pytest.mark.parametrize("key", SAMPLES)
def test_bad_record_reports_every_problem(key):
    changes, expected = BAD[key]
    record = copy.deepcopy(SAMPLES[key])
    for field, value in changes.items():
        if value is None:
            record.pop(field)
        else:
            record[field] = value
    assert expected <= error_paths(key, record)


def test_agent_fields_are_required_only_when_applying_through_an_agent():
    record = {k: v for k, v in SAMPLES["certificate-application"].items() if not k.startswith("agent_")}
    record.pop("authorisation_letter")
    messages = [error.message for error in validator("certificate-application").iter_errors(record)]
    for field in ("agent_name", "agent_id_number", "agent_phone", "agent_id_copy", "authorisation_letter"):
        assert any(field in message for message in messages)
    assert error_paths("certificate-application", {**record, "by_agent": False}) == set()


def test_agent_fields_carry_the_same_show_rule_in_schema_and_ui():
    form = load("certificate-application")
    rule = {"==": [{"var": "by_agent"}, True]}
    for field in ("agent_name", "agent_id_number", "agent_phone", "agent_id_copy", "authorisation_letter"):
        assert form["schema"]["properties"][field]["x-show-if"] == rule
        assert form["ui_schema"][field]["ui:options"]["show_if"] == rule


def test_each_chosen_change_requires_its_new_value():
    record = copy.deepcopy(SAMPLES["account-change"])
    record["changed_items"] = ["email", "linked_card"]
    record["new_details"] = {}
    record.pop("amount")
    messages = [error.message for error in validator("account-change").iter_errors(record)]
    assert any("new_email" in message for message in messages)
    assert any("new_linked_card" in message for message in messages)


def test_other_id_documents_skip_the_resident_id_pattern():
    record = {**SAMPLES["account-change"], "id_type": "passport", "id_number": "E12345678"}
    assert error_paths("account-change", record) == set()


def test_shareholder_rows_are_limited_to_fifty():
    record = copy.deepcopy(SAMPLES["business-licence"])
    row = {"name": "股东", "id_number": ID_CARD, "contribution": 1, "share_percent": 1.5}
    record["shareholders"] = [row] * 51
    assert "/shareholders" in error_paths("business-licence", record)
    record["shareholders"] = [row] * 50
    assert error_paths("business-licence", record) == set()


def test_one_person_company_has_exactly_one_shareholder():
    record = {**SAMPLES["business-licence"], "company_type": "one_person_llc"}
    assert "/shareholders" in error_paths("business-licence", record)
