"""The rules an account must follow wherever it is created: API, admin page or CLI."""
from __future__ import annotations

import re
import unicodedata

USERNAME_PATTERN = r"^[a-z][a-z0-9_.-]{1,63}$"
USERNAME_RULE = {"zh-CN": "用户名须以小写字母开头，由 2 至 64 个小写字母、数字、点、下划线或连字符组成",
                 "en": "A user name starts with a lowercase letter and has 2 to 64 lowercase letters, "
                       "digits, '.', '_' or '-'"}
_USERNAME = re.compile(USERNAME_PATTERN)
_LONGEST_INPUT = 256            # longer input is refused before any normalising work


def username_ok(name: object) -> bool:
    return isinstance(name, str) and _USERNAME.fullmatch(name) is not None


def username_key(name: object) -> str | None:
    """The one form of a user name that is stored, looked up and compared: NFKC, then case-folded.

    `Admin`, `ＡＤＭＩＮ` (full width) and `admin` are one name; a look-alike from another script
    (a Cyrillic `а`) stays itself and then fails `username_ok`, which allows ASCII only, so two
    accepted names never look alike. None when the input is not text or is absurdly long.
    """
    if not isinstance(name, str) or len(name) > _LONGEST_INPUT:
        return None
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def normal_username(name: object) -> str | None:
    """The user name as stored when it follows the rule once normalised, else None."""
    key = username_key(name)
    return key if username_ok(key) else None
