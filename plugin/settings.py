"""Configuration: `COUNTERFLOW_*` keys from app.config, else the environment, else defaults; frozen once."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from flask import Config

PREFIX = "COUNTERFLOW"

DEFAULTS: dict[str, Any] = {
    "MONGODB_URI": None,            # None: the embedded nx-27017 server on DATA_DIR
    "DB_NAME": "counterflow",
    "DATA_DIR": "counterflow-data",
    "URL_PREFIX": "",
    "ADMIN_PASSWORD": None,
    "MAX_JSON_BYTES": 1024 * 1024,
    "MAX_UPLOAD_BYTES": 20 * 1024 * 1024,
    "TOKEN_TTL_SECONDS": 8 * 3600,
    "TIMEZONE": "Asia/Shanghai",
    "STATUS_RATE_LIMIT": 30,        # lookups per minute per client address
    "LOGIN_RATE_LIMIT": 10,         # failed logins per minute per user name
    "LOGIN_ADDRESS_LIMIT": 30,      # failed logins per minute per client address, whatever the names
    "PASSWORD_HASH_CONCURRENCY": 2,  # argon2 hashes at once; a sign-in finding none free gets 429
    "SESSION_HOURS": 10,            # a page session ends this long after sign-in (and at logout)
    "PUBLIC_BASE_URL": None,        # for receipt status URLs; default: the request's host URL
    "TRUSTED_HOSTS": None,          # Host names the status URL may use; None: local names only,
                                    # unless PUBLIC_BASE_URL is set (then the Host is never used)
    "FRAME_ANCESTORS": (),          # portal origins that may frame the pages, besides 'self'
    "LOAD_SHIPPED": True,
    "CALENDAR_OVERRIDES": {},       # {year: {"days_off": [...], "workdays": [...]}}
    "NOTICE_DAYS": 5,               # working days within which the 补正 notice must be given (deadline setting)
    "DUE_SOON_DAYS": 1,             # working days before a deadline when `tick` reminds (0: on the day)
    "TICK_EVERY_SECONDS": 60,       # `serve` runs tick this often in a background thread (0: never)
    "TICK_BATCH": 200,              # records tick reads per cursor batch
    "TICK_LEASE_SECONDS": 300,      # how long a host's claim on a record holds before another may take it
    "COUNTER_CONTACT": "",          # printed on every voucher (a form's settings.contact wins)
    "USER_CACHE_SECONDS": 30,
    "PASSWORD_PROFILE": "rfc9106_low_memory",   # argon2id parameters; "cheapest" only for test suites
    "STORE_TIMEOUT_MS": 5000,       # how long a request waits for an unreachable store before a 503
    "ENCRYPTION_KEY": None,         # Fernet key(s) for x-sensitive fields, comma-separated, newest first
    "WORKFLOWS_DIR": None,          # a folder of an admin's own workflow .yaml files,
                                    # loaded with the shipped ones
    "CLOCK_OFFSET": None,           # test and training only: shift the clock, such as +6y or -3d
    "ALLOW_CLOCK_OFFSET": False,    # ... and CLOCK_OFFSET is refused unless this is set too
    "RETENTION_MIN_YEARS": 5,       # no form keeps an archived record for less, whatever its rule says
    "SIGNING_KEY": None,            # Ed25519 key (base64 of a 32-byte seed, or PEM) for audit checkpoints
                                    # and certificates; None: derived from the app secret
    "DESTRUCTION_COOLING_OFF_DAYS": 7,      # days after a destruction list's approval during which it may be
                                            # cancelled before it can be executed (0: none)
    "NOTIFY": {},                   # notification channels and retries (see _notify); {}: the inbox only
}
TEXT = {"MONGODB_URI", "DB_NAME", "DATA_DIR", "URL_PREFIX", "ADMIN_PASSWORD", "TIMEZONE", "PUBLIC_BASE_URL",
        "PASSWORD_PROFILE", "ENCRYPTION_KEY", "WORKFLOWS_DIR", "SIGNING_KEY"}
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class SettingsError(RuntimeError):
    """One or more settings are wrong; the message names each key and its fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the settings have problems:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str | None = None
    db_name: str = "counterflow"
    data_dir: Path = Path("counterflow-data")
    url_prefix: str = ""
    admin_password: str | None = field(default=None, repr=False)
    max_json_bytes: int = 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    token_ttl_seconds: int = 8 * 3600
    timezone: str = "Asia/Shanghai"
    status_rate_limit: int = 30
    login_rate_limit: int = 10
    login_address_limit: int = 30
    password_hash_concurrency: int = 2
    session_hours: int = 10
    public_base_url: str | None = None
    trusted_hosts: tuple[str, ...] | None = None
    frame_ancestors: tuple[str, ...] = ()
    load_shipped: bool = True
    calendar_overrides: Mapping[int, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    notice_days: int = 5
    due_soon_days: int = 1
    tick_every_seconds: int = 60
    tick_batch: int = 200
    tick_lease_seconds: int = 300
    counter_contact: str = ""
    user_cache_seconds: int = 30
    password_profile: str = "rfc9106_low_memory"
    encryption_key: str | None = field(default=None, repr=False)
    store_timeout_ms: int = 5000
    workflows_dir: Path | None = None
    clock_offset: str | None = None
    allow_clock_offset: bool = False
    retention_min_years: int = 5
    signing_key: str | None = field(default=None, repr=False)
    destruction_cooling_off_days: int = 7
    notify: Mapping[str, Any] = field(default_factory=dict, repr=False)      # holds the SMTP password

    @classmethod
    def from_app(cls, app: Any) -> "Settings":
        """`app.config` first, then `COUNTERFLOW_*` environment variables read the Flask way (JSON parsed)."""
        return cls.from_mapping(app.config, environment(app.root_path))

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any], env: "Environment | None" = None) -> "Settings":
        """Read `COUNTERFLOW_<NAME>` from `config`, then `env`, then the defaults; every problem at once."""
        env = env or Environment({}, {})
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            name = f.name.upper()
            key = f"{PREFIX}_{name}"
            if key in config:
                raw = config[key]
            elif name in env.parsed:
                raw = env.raw.get(name) if name in TEXT else env.parsed[name]
            else:
                raw = DEFAULTS[name]
            try:
                values[f.name] = READERS.get(name, _reader_for(DEFAULTS[name]))(raw, DEFAULTS[name])
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
        if values.get("clock_offset") and not values.get("allow_clock_offset"):
            problems.append(f"{PREFIX}_CLOCK_OFFSET: shifts the clock ({values['clock_offset']}), which "
                            "only a test or training installation may do; fix: unset it, or set "
                            f"{PREFIX}_ALLOW_CLOCK_OFFSET=1 on such an installation")
        if problems:
            raise SettingsError(problems)
        return cls(**values)


@dataclass(frozen=True)
class Environment:
    """`COUNTERFLOW_*` environment variables without the prefix: as JSON where they parse, and as text."""

    parsed: Mapping[str, Any]
    raw: Mapping[str, Any]


def environment(root_path: str = ".") -> Environment:
    """Flask's `from_prefixed_env("COUNTERFLOW")` into scratch configs: the host's config stays its own."""
    parsed, raw = Config(root_path), Config(root_path)
    parsed.from_prefixed_env(PREFIX)
    raw.from_prefixed_env(PREFIX, loads=str)
    return Environment(parsed, raw)


# -- one reader per kind of value: each returns the value or raises ValueError("problem; fix: ...") --------

def _text(raw: Any, default: Any) -> Any:
    if raw is None or raw == "":
        return default
    if isinstance(raw, Path):
        return str(raw)
    if not isinstance(raw, str):
        raise ValueError(f"must be text, got {raw!r}; fix: give it as a string")
    return raw


def _whole(raw: Any, default: Any, *, zero: bool = False) -> int:
    if raw is None or raw == "":
        return int(default)
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(f"must be a whole number, got {raw!r}; fix: give digits only, such as {default}")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"must be a whole number, got {raw!r}; fix: give digits only, such as {default}") \
            from None
    if value < 0 or (value == 0 and not zero):
        least = 0 if zero else 1
        raise ValueError(f"must be {least} or more, got {value}; fix: give a whole number, at least {least}")
    return value


def _flag(raw: Any, default: Any) -> bool:
    if raw is None or raw == "":
        return bool(default)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in TRUE | FALSE:
        return raw.strip().lower() in TRUE
    raise ValueError(f"must be true or false, got {raw!r}; fix: use true, false, 1, 0, yes, no, on or off")


def _uri(raw: Any, default: Any) -> str | None:
    value = _text(raw, default)
    if value is not None and not value.startswith(("mongodb://", "mongodb+srv://")):
        raise ValueError(f"is not a MongoDB URI ({value[:40]!r}); fix: use mongodb://HOST:PORT/ "
                         "(or mongodb+srv://), or leave it unset for the embedded store")
    return value


def _db_name(raw: Any, default: Any) -> str:
    value = str(_text(raw, default))
    if len(value) > 63 or any(c in value for c in '/\\. "$\0'):
        raise ValueError(f"{value!r} cannot name a MongoDB database; fix: use up to 63 letters, digits, -, _")
    return value


def _data_dir(raw: Any, default: Any) -> Path:
    return Path(str(_text(raw, default))).expanduser()


def _folder(raw: Any, default: Any) -> Path | None:
    value = _text(raw, default)
    if not value:
        return None
    path = Path(str(value)).expanduser()
    if not path.is_dir():
        raise ValueError(f"{str(path)!r} is not a folder; fix: point it at a folder of workflow .yaml files, "
                         "or leave it unset")
    return path


def _prefix(raw: Any, default: Any) -> str:
    value = str(_text(raw, default)).rstrip("/")
    odd = any(c.isspace() or c in "<>?#" for c in value)
    if value and (not value.startswith("/") or "//" in value or odd):
        raise ValueError(f"{value!r} is not a URL path; fix: start it with / (for example /counter), "
                         "or leave it empty to mount at /")
    return value


def _zone(raw: Any, default: Any) -> str:
    value = str(_text(raw, default))
    try:
        ZoneInfo(value)
    except (ValueError, KeyError, OSError):
        raise ValueError(f"{value!r} is not a known time zone; fix: use an IANA name, e.g. Asia/Shanghai") \
            from None
    return value


def _base_url(raw: Any, default: Any) -> str | None:
    value = _text(raw, default)
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not a web address; fix: use https://HOST[/PATH], as people type it")
    return value


def _listed(raw: Any, default: Any) -> tuple[str, ...] | None:
    """A list of words: a JSON list, or text separated by commas or spaces; None or empty: the default."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    if not isinstance(raw, (list, tuple)) or not all(isinstance(v, str) for v in raw):
        raise ValueError(f"must be a list of text, got {raw!r}; "
                         "fix: give a JSON list or comma-separated text")
    return tuple(v.strip() for v in raw if v.strip())


_HOST = re.compile(r"^\.?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$")
_ORIGIN = re.compile(r"^(https?://)?(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:(\d{1,5}|\*))?$")


def _hosts(raw: Any, default: Any) -> tuple[str, ...] | None:
    value = _listed(raw, default)
    for host in value or ():
        if not _HOST.match(host.lower()):
            raise ValueError(f"{host!r} is not a host name; fix: list names as the Host header carries them, "
                             "without scheme, port or path (counter.example.gov, or .example.gov for its "
                             "subdomains)")
    return tuple(h.lower() for h in value) if value else default


def _origins(raw: Any, default: Any) -> tuple[str, ...]:
    value = _listed(raw, default) or ()
    for origin in value:
        if not _ORIGIN.match(origin.lower()):
            raise ValueError(f"{origin!r} is not an origin; fix: list each portal as https://HOST[:PORT] "
                             "(https://*.example.gov for its subdomains), without path")
    return tuple(value)


def _profile(raw: Any, default: Any) -> str:
    from counterflow.security.passwords import PROFILES

    value = str(_text(raw, default))
    if value not in PROFILES:
        raise ValueError(f"{value!r} is not a password profile; fix: use one of {', '.join(PROFILES)}")
    return value


def _keys(raw: Any, default: Any) -> str | None:
    from counterflow.security.sealing import Sealer

    value = _text(raw, default)
    if value is not None:
        keys = [k.strip() for k in value.split(",") if k.strip()]
        try:
            Sealer(keys)                           # each key must be a Fernet key
        except ValueError:
            raise ValueError("holds a value that is not a Fernet key; fix: use keys made with python -c "
                             "'from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())', comma-separated, newest first") \
                from None
    return value


def _signing_key(raw: Any, default: Any) -> str | None:
    from counterflow.security.signing import load_private_key

    value = _text(raw, default)
    if value is not None:
        load_private_key(value)                    # raises ValueError naming the fix
    return value


CALENDAR_FIX = ('fix: give JSON such as {"2027": {"days_off": ["2027-10-07"], "workdays": ["2027-09-26"]}}, '
                "with ISO dates inside their year")


def _calendar(raw: Any, default: Any) -> Mapping[int, Mapping[str, tuple[str, ...]]]:
    """Per-year corrections, checked whole at start-up: years, ISO dates in their year, no day both ways."""
    from counterflow.core.calendar import WorkCalendar, YearOverride

    if raw is None or raw == "":
        raw = default
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"is not valid JSON ({exc}); {CALENDAR_FIX}") from None
    if not isinstance(raw, Mapping):
        raise ValueError(f"must map years to corrections, got {type(raw).__name__}; {CALENDAR_FIX}")
    out: dict[int, Mapping[str, tuple[str, ...]]] = {}
    built: dict[int, YearOverride] = {}
    for year, value in raw.items():
        where = f"year {year!r}"
        if isinstance(year, bool) or not str(year).isdigit() or not 1900 <= int(year) <= 9999:
            raise ValueError(f"{where} is not a year; {CALENDAR_FIX}")
        if not isinstance(value, Mapping) or set(value) - {"days_off", "workdays"}:
            raise ValueError(f"{where} must hold only days_off and workdays lists; {CALENDAR_FIX}")
        lists: dict[str, tuple[str, ...]] = {}
        for part in ("days_off", "workdays"):
            listed = value.get(part, [])
            if not isinstance(listed, (list, tuple)) or not all(isinstance(d, str) for d in listed):
                raise ValueError(f"{where} {part} must be a list of ISO dates; {CALENDAR_FIX}")
            for day in listed:
                try:
                    parsed = dt.date.fromisoformat(day)
                except ValueError:
                    raise ValueError(f"{where} {part}: {day!r} is not an ISO date; {CALENDAR_FIX}") from None
                if parsed.year != int(year):
                    raise ValueError(f"{where} {part}: {day} is in another year; {CALENDAR_FIX}")
            lists[part] = tuple(listed)
        try:
            built[int(year)] = YearOverride(frozenset(map(dt.date.fromisoformat, lists["days_off"])),
                                            frozenset(map(dt.date.fromisoformat, lists["workdays"])))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}; fix: list each day once, in days_off or in workdays") from None
        out[int(year)] = MappingProxyType(lists)
    try:
        WorkCalendar(built)
    except ValueError as exc:
        raise ValueError(f"{exc}; {CALENDAR_FIX}") from None
    return MappingProxyType(out)


def _clock_offset(raw: Any, default: Any) -> str | None:
    from counterflow.core.clock import parse_offset

    value = _text(raw, default)
    return parse_offset(value).text or None if value else None


NOTIFY_KEYS = {"smtp_host": str, "smtp_port": int, "smtp_from": str, "smtp_tls": str, "smtp_user": str,
               "smtp_password": str, "smtp_timeout": int, "webhook_url": str, "webhook_secret": str,
               "webhook_timeout": int, "max_attempts": int, "backoff_seconds": int,
               "backoff_max_seconds": int, "lease_seconds": int, "interval_seconds": int,
               "due_soon_days": int}


def _notify(raw: Any, default: Any) -> Mapping[str, Any]:
    """{"smtp_host", "smtp_port", "smtp_from", "smtp_tls": none|starttls|ssl, "smtp_user", "smtp_password",
    "webhook_url", "webhook_secret", "max_attempts", "backoff_seconds", "backoff_max_seconds",
    "lease_seconds", "interval_seconds", "due_soon_days"}; every problem names the key (never a value: it
    may be a secret)."""
    if raw is None or raw == "":
        return MappingProxyType(dict(default))
    if not isinstance(raw, Mapping):
        raise ValueError("must be an object; fix: give JSON such as {\"smtp_host\": \"mail.example.gov\"}")
    problems = []
    for key, value in raw.items():
        kind = NOTIFY_KEYS.get(key)
        if kind is None:
            problems.append(f"unknown key {str(key)[:40]!r} (use {', '.join(NOTIFY_KEYS)})")
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            problems.append(f"{key} must be a whole number, 0 or more")
        elif kind is str and not isinstance(value, str):
            problems.append(f"{key} must be text")
    if raw.get("smtp_tls", "none") not in ("none", "starttls", "ssl"):
        problems.append("smtp_tls must be none, starttls or ssl")
    url = raw.get("webhook_url")
    if isinstance(url, str) and not url.startswith(("http://", "https://")):
        problems.append("webhook_url must be an http:// or https:// address")
    if isinstance(url, str) and not raw.get("webhook_secret"):
        problems.append("webhook_url needs a webhook_secret to sign with")
    if problems:
        raise ValueError("; ".join(problems) + "; fix: correct these keys")
    return MappingProxyType(dict(raw))


def _reader_for(default: Any) -> Callable[[Any, Any], Any]:
    if isinstance(default, bool):
        return _flag
    if isinstance(default, int):
        return _whole
    return _text


READERS: dict[str, Callable[[Any, Any], Any]] = {
    "MONGODB_URI": _uri, "DB_NAME": _db_name, "DATA_DIR": _data_dir, "URL_PREFIX": _prefix, "TIMEZONE": _zone,
    "PUBLIC_BASE_URL": _base_url, "TRUSTED_HOSTS": _hosts, "FRAME_ANCESTORS": _origins,
    "PASSWORD_PROFILE": _profile, "ENCRYPTION_KEY": _keys, "SIGNING_KEY": _signing_key,
    "NOTIFY": _notify,
    "CALENDAR_OVERRIDES": _calendar, "WORKFLOWS_DIR": _folder, "CLOCK_OFFSET": _clock_offset,
    "USER_CACHE_SECONDS": lambda raw, default: _whole(raw, default, zero=True),     # 0: no cache
    "DESTRUCTION_COOLING_OFF_DAYS": lambda raw, default: _whole(raw, default, zero=True),
}


# clocks and tick (service/clocks.py, service/tick.py)
TEXT.add("COUNTER_CONTACT")
READERS.update({"DUE_SOON_DAYS": lambda raw, default: _whole(raw, default, zero=True),
                "TICK_EVERY_SECONDS": lambda raw, default: _whole(raw, default, zero=True)})   # 0: off
