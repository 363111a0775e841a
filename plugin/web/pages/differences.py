"""The differences a version page shows against another version (`<section id="cf-differences">`), so a
reviewer reads what changed before deciding: one function for the form and the workflow version pages."""
from __future__ import annotations

from typing import Any

from flask import request

from counterflow.core.errors import NotFound
from counterflow.core.i18n import text
from counterflow.web.pages.common import ext, lang

WORDS = {
    "title": {"zh-CN": "与其他版本的差异", "en": "Differences from another version"},
    "against": {"zh-CN": "比较的版本", "en": "Compare with version"},
    "compare": {"zh-CN": "比较", "en": "Compare"},
    "summary": {"zh-CN": "与版本 {against} 相比：新增 {added} 处，删除 {removed} 处，修改 {changed} 处",
                "en": "Against version {against}: {added} added, {removed} removed, {changed} changed"},
    "none": {"zh-CN": "两个版本没有差异", "en": "The two versions do not differ"},
}


def _against() -> int | None:
    given = request.args.get("against", "")
    return int(given) if given.isdigit() and 0 < len(given) <= 9 and int(given) > 0 else None


def version_differences(kind: str, who: Any, key: str, version: int) -> dict[str, Any]:
    """The differences of `version` against `?against=N` (default: the version before) for the page, with
    its words; an unknown version to compare with is said in the section, never a failed page."""
    service = ext().service
    find = service.form_version_diff if kind == "form" else service.workflow_version_diff
    try:
        found = find(who, key, version, _against(), lang())
    except NotFound as exc:
        found = dict(find(who, key, version, None, lang()), error=exc.message)
    words = {k: text(v, lang()) for k, v in WORDS.items()}
    if found.get("against") is not None:
        words["summary"] = words["summary"].format(against=found["against"], **found["counts"])
    return dict(found, words=words)
