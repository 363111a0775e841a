"""The rules an account must follow wherever it is created: API, admin page or CLI."""
from __future__ import annotations

import re

USERNAME_PATTERN = r"^[a-z][a-z0-9_.-]{1,63}$"
USERNAME_RULE = {"zh-CN": "用户名须以小写字母开头，由 2 至 64 个小写字母、数字、点、下划线或连字符组成",
                 "en": "A user name starts with a lowercase letter and has 2 to 64 lowercase letters, "
                       "digits, '.', '_' or '-'"}
_USERNAME = re.compile(USERNAME_PATTERN)


def username_ok(name: object) -> bool:
    return isinstance(name, str) and _USERNAME.fullmatch(name) is not None
