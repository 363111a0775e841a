"""Passwords: argon2id hashing (bounded, timing-equal), the strength rule, generated initial passwords."""
from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

PROFILES = {"rfc9106_low_memory": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}
MIN_LENGTH = 10
MIN_SCORE = 3                   # zxcvbn: 3 is "safely unguessable: moderate protection from offline attacks"
ESTIMATE_CHARS = 72             # zxcvbn refuses longer input; the first 72 characters decide
# how long a sign-in waits for a free hashing slot before a 429: briefly, since a waiting sign-in holds
# one of the server's request threads
SLOT_WAIT_SECONDS = 0.2


class PasswordsBusy(Exception):
    """Every hashing slot stayed taken: the caller answers 429 instead of queueing CPU-bound work."""


class Passwords:
    """argon2id hashing; `cheapest` exists for test suites only (COUNTERFLOW_PASSWORD_PROFILE).

    At most `concurrency` hashes run at once (each costs tens of MiB and a core); a caller that
    finds every slot taken for SLOT_WAIT_SECONDS gets PasswordsBusy. `equalise()` stands in for a
    verify when there is no account: it takes a slot and waits as long as a verify takes (a
    running average of real ones), so neither time nor a 429 says whether a user name exists,
    and an unknown name costs no hash at all.
    """

    def __init__(self, profile: str = "rfc9106_low_memory", concurrency: int = 2) -> None:
        if profile not in PROFILES:
            raise ValueError(f"COUNTERFLOW_PASSWORD_PROFILE must be one of {', '.join(PROFILES)}, "
                             f"got {profile!r}")
        self._hasher = PasswordHasher.from_parameters(PROFILES[profile])
        self.slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self.hashes = 0                             # argon2 runs so far (hash and verify), for tests
        started = time.perf_counter()
        self._hasher.verify(self._hasher.hash("counterflow-timing-probe"), "counterflow-timing-probe")
        self.cost = (time.perf_counter() - started) / 2     # one verify, seeded from a hash and a verify

    def _slot(self) -> None:
        if not self.slots.acquire(timeout=SLOT_WAIT_SECONDS):
            raise PasswordsBusy()

    def hash(self, password: str) -> str:
        self._slot()
        try:
            self._count()
            return self._hasher.hash(password)
        finally:
            self.slots.release()

    def verify(self, password_hash: str, password: str) -> bool:
        self._slot()
        started = time.perf_counter()
        try:
            self._count()
            return bool(self._hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False
        finally:
            self.slots.release()
            took = time.perf_counter() - started
            with self._lock:
                self.cost = 0.8 * self.cost + 0.2 * took

    def equalise(self) -> None:
        """What a verify costs in time, in slots and in 429s, without a hash: for a name with no account.

        The slot is held while waiting (the wait takes no core): unknown names then queue and overflow
        exactly as known ones do, and a flood of them gets 429s at once instead of holding every
        request thread of the server in a sleep.
        """
        self._slot()
        try:
            time.sleep(self.cost)
        finally:
            self.slots.release()

    def _count(self) -> None:
        with self._lock:
            self.hashes += 1


FEEDBACK_ZH = {
    "Use a few words, avoid common phrases.": "使用几个词组合，避免常见短语。",
    "No need for symbols, digits, or uppercase letters.": "不必非得使用符号、数字或大写字母。",
    "Add another word or two. Uncommon words are better.": "再加一两个词，不常见的词更好。",
    "Straight rows of keys are easy to guess.": "键盘上连成一行的按键很容易被猜到。",
    "Short keyboard patterns are easy to guess.": "短的键盘图案很容易被猜到。",
    "Use a longer keyboard pattern with more turns.": "使用更长、转折更多的键盘图案。",
    'Repeats like "aaa" are easy to guess.': "像“aaa”这样的重复很容易被猜到。",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".':
        "像“abcabcabc”这样的重复只比“abc”稍难猜一点。",
    "Avoid repeated words and characters.": "避免重复的词和字符。",
    'Sequences like "abc" or "6543" are easy to guess.': "像“abc”或“6543”这样的序列很容易被猜到。",
    "Avoid sequences.": "避免连续序列。",
    "Recent years are easy to guess.": "最近的年份很容易被猜到。",
    "Avoid recent years.": "避免使用最近的年份。",
    "Avoid years that are associated with you.": "避免使用与您相关的年份。",
    "Dates are often easy to guess.": "日期通常很容易被猜到。",
    "Avoid dates and years that are associated with you.": "避免使用与您相关的日期和年份。",
    "This is a top-10 common password.": "这是最常见的 10 个密码之一。",
    "This is a top-100 common password.": "这是最常见的 100 个密码之一。",
    "This is a very common password.": "这是非常常见的密码。",
    "This is similar to a commonly used password.": "这与常用密码相似。",
    "A word by itself is easy to guess.": "单个词很容易被猜到。",
    "Names and surnames by themselves are easy to guess.": "单独的姓名很容易被猜到。",
    "Common names and surnames are easy to guess.": "常见的姓名很容易被猜到。",
    "Capitalization doesn't help very much.": "大写字母帮助不大。",
    "All-uppercase is almost as easy to guess as all-lowercase.": "全部大写几乎和全部小写一样容易被猜到。",
    "Reversed words aren't much harder to guess.": "倒写的词并不难猜多少。",
    "Predictable substitutions like '@' instead of 'a' don't help very much.":
        "用“@”代替“a”这类可预料的替换帮助不大。",
}
RULES = {
    "too_short": {"zh-CN": f"密码至少 {MIN_LENGTH} 位", "en": f"A password has at least {MIN_LENGTH} characters"},
    "contains_username": {"zh-CN": "密码不能包含用户名", "en": "The password must not contain the user name"},
    "guessable": {"zh-CN": "密码太容易被猜到", "en": "The password is too easy to guess"},
}


def password_problems(password: str, username: str = "") -> list[str]:
    """Codes for why a password is too weak: short, containing the user name, or guessable (zxcvbn)."""
    return [code for code, _ in _assess(password, username)[0]]


def password_advice(password: str, username: str, lang: str) -> list[str]:
    """What is wrong with a password and how to do better, in `lang`: our rules, then zxcvbn's feedback."""
    problems, feedback = _assess(password, username)
    said = [text.get(lang) or text["en"] for _, text in problems]
    tips = [FEEDBACK_ZH.get(tip, tip) if lang == "zh-CN" else tip for tip in feedback if tip]
    return said + tips


def _assess(password: str, username: str) -> tuple[list[tuple[str, dict[str, str]]], list[str]]:
    problems: list[tuple[str, dict[str, str]]] = []
    if len(password) < MIN_LENGTH:
        problems.append(("too_short", RULES["too_short"]))
    if username and username.casefold() in password.casefold():
        problems.append(("contains_username", RULES["contains_username"]))
    result: dict[str, Any] = zxcvbn(password[:ESTIMATE_CHARS], user_inputs=[username] if username else [])
    feedback: list[str] = []
    if result["score"] < MIN_SCORE:
        problems.append(("guessable", RULES["guessable"]))
        feedback = [result["feedback"].get("warning") or ""] + list(result["feedback"].get("suggestions", []))
    return problems, feedback


def generate_password() -> str:
    return secrets.token_urlsafe(12)
