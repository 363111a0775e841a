"""A small counter form the tests define, approve and fill, as an admin would."""
from __future__ import annotations

import copy
from typing import Any

PERMIT: dict[str, Any] = {
    "key": "parking-permit",
    "title": {"zh-CN": "停车证申请", "en": "Parking permit application"},
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["applicant", "id_number", "phone", "plate", "months"],
        "properties": {
            "applicant": {"type": "string", "title": "申请人", "x-title-en": "Applicant", "minLength": 2,
                          "x-sensitive": "name"},
            "id_number": {"type": "string", "title": "身份证号", "x-title-en": "ID number",
                          "x-sensitive": "id_number",
                          "pattern": "^[1-9]\\d{16}[0-9Xx]$"},
            "phone": {"type": "string", "title": "手机号", "x-title-en": "Mobile", "x-sensitive": "phone",
                      "pattern": "^1[3-9]\\d{9}$"},
            "email": {"type": "string", "format": "email", "title": "邮箱", "x-title-en": "E-mail"},
            "plate": {"type": "string", "title": "车牌号", "x-title-en": "Plate number", "minLength": 7,
                      "maxLength": 8},
            "months": {"type": "integer", "title": "月数", "x-title-en": "Months", "minimum": 1, "maximum": 12},
            "amount": {"type": "integer", "title": "金额（元）", "x-title-en": "Amount (yuan)", "minimum": 0},
            "licence_copy": {"type": "string", "format": "attachment", "title": "行驶证复印件",
                             "x-title-en": "Copy of the vehicle licence",
                             "x-material": {"title": {"zh-CN": "行驶证复印件",
                                                      "en": "Copy of the vehicle licence"}}},
        },
    },
    "ui_schema": {"ui:order": ["applicant", "id_number", "phone", "email", "plate", "months", "amount", "*"],
                  "plate": {"ui:placeholder": "京A12345"}},
    "settings": {"processes": ["intake", "review", "archive", "destroy"],
                 "numbering": "PK-{yyyy}{mm}{dd}-{seq:04d}", "time_limit": {"working_days": 5},
                 "retention": {"years": 5, "from": "archived"},
                 "review": {"second_level_if": {">": [{"var": "amount"}, 50000]}}},
}

COMPLETE = {"applicant": "张三", "id_number": "110105199001011234", "phone": "13812345678",
            "plate": "京A12345", "months": 6, "amount": 300}


def permit(**overrides: Any) -> dict[str, Any]:
    definition = copy.deepcopy(PERMIT)
    definition.update(overrides)
    return definition


def publish(api: Any, definition: dict[str, Any] | None = None, author: str = "admin") -> dict[str, Any]:
    """Define a form and walk it through approval: admin submits, dept_head reviews, manager approves."""
    definition = definition or permit()
    r = api.post("/api/v1/forms", author, json=definition)
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    base = f"/api/v1/forms/{definition['key']}/versions/{doc['version']}/transitions"
    for trigger, who in (("submit", author), ("review", "head"), ("approve", "boss")):
        r = api.post(f"{base}/{trigger}", who, json={"revision": doc["revision"]})
        assert r.status_code == 200, (trigger, r.get_json())
        doc = r.get_json()
    assert doc["state"] == "published"
    return doc


def upload(api: Any, who: str = "clerk", name: str = "licence.pdf", content: bytes = b"%PDF-1.4 test") -> str:
    import io

    r = api.post("/api/v1/attachments", who, data={"file": (io.BytesIO(content), name)},
                 content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]
