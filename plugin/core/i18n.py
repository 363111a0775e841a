"""Bilingual messages: Simplified Chinese (default) and English."""
from __future__ import annotations

from typing import Mapping

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"

Text = Mapping[str, str]


def normalize(lang: str | None) -> str:
    """Map any language tag to one we speak (zh*, en*), else the default."""
    if not lang:
        return DEFAULT_LANG
    tag = lang.strip().lower()
    if tag.startswith("en"):
        return "en"
    return DEFAULT_LANG


def text(value: Text | str | None, lang: str) -> str:
    """Pick the language from a `{"zh-CN": ..., "en": ...}` mapping; plain strings pass."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(lang) or value.get(DEFAULT_LANG) or value.get("en") or next(iter(value.values()), "")


def message(table: Mapping[str, Text], code: str, lang: str, **params: object) -> str:
    """Format the message for `code` from a module's table of bilingual templates."""
    template = text(table.get(code) or table.get("unknown") or {"en": code}, lang)
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template
