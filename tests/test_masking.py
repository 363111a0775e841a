"""Masking sensitive values for display."""
from __future__ import annotations

import copy

import pytest

from counterflow.core.masking import KINDS, looks_masked, mask_data, mask_value


@pytest.mark.parametrize("kind, value, shown", [
    ("id_number", "110105199001011234", "110***********1234"),
    ("id_number", "11010519900101123X", "110***********123X"),
    ("bank_card", "6222020200112233445", "622202*********3445"),
    ("bank_card", "6222 0202 0011 2233 445", "622202*********3445"),
    ("phone", "13812345678", "138****5678"),
    ("phone", "138-1234-5678", "138****5678"),
    ("phone", "010-62345678", "*******5678"),
    ("name", "张三", "张*"),
    ("name", "欧阳娜娜", "欧***"),
    ("name", "John Smith", "J*** S****"),
    ("address", "北京市朝阳区建国路88号", "北京市朝阳区******"),
    ("address", "北京市朝阳区建国路88号SOHO现代城A座1001", "北京市朝阳区**********"),
    ("address", "北京市", "北京市"),
    ("secret", "123456", "******"),
    ("secret", "x", "******"),
])
def test_each_kind_is_masked(kind: str, value: str, shown: str) -> None:
    assert mask_value(kind, value) == shown


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [None, "", 12, ["a"]])
def test_non_strings_and_empty_values_pass_unchanged(kind: str, value: object) -> None:
    assert mask_value(kind, value) == value


def test_short_values_never_show_whole() -> None:
    assert mask_value("id_number", "1234") == "1***"
    assert mask_value("bank_card", "62") == "6*"


def test_unknown_kind_is_masked_as_secret() -> None:
    assert mask_value("passport", "E12345678") == "******"


def test_mask_data_masks_nested_and_array_pointers_without_touching_input() -> None:
    data = {"name": "张三", "applicant": {"phone": "13812345678", "city": "北京"},
            "rows": [{"card": "6222020200112233445", "qty": 1}, {"qty": 2}, {"card": None}],
            "a/b": "110105199001011234"}
    before = copy.deepcopy(data)
    masked = mask_data(data, {"/name": "name", "/applicant/phone": "phone", "/rows/*/card": "bank_card",
                              "/a~1b": "id_number", "/missing/deep": "secret"})
    assert masked == {"name": "张*", "applicant": {"phone": "138****5678", "city": "北京"},
                      "rows": [{"card": "622202*********3445", "qty": 1}, {"qty": 2}, {"card": None}],
                      "a/b": "110***********1234"}
    assert data == before


def test_mask_data_tolerates_shapes_that_do_not_match() -> None:
    assert mask_data({"rows": "none"}, {"/rows/*/card": "bank_card"}) == {"rows": "none"}
    assert mask_data(None, {"/name": "name"}) is None
    assert mask_data({"rows": [["x"]]}, {"/rows/0/0": "secret"}) == {"rows": [["******"]]}


@pytest.mark.parametrize("kind, value", [
    ("id_number", "11010519900101123X"), ("bank_card", "6222 0202 0011 2233 445"), ("phone", "13812345678"),
    ("phone", "010-62345678"), ("name", "张三"), ("name", "John Smith"), ("address", "北京市朝阳区建国路88号"),
    ("secret", "a*b"), ("id_number", "1234"),
])
def test_every_mask_looks_masked_and_no_typed_value_does(kind: str, value: str) -> None:
    assert looks_masked(kind, mask_value(kind, value))
    assert not looks_masked(kind, value)
    assert not looks_masked(kind, None) and not looks_masked(kind, "")
