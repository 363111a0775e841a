"""Configuration: `COUNTERFLOW_*` keys from app.config or the environment, frozen once."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

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
    "PUBLIC_BASE_URL": None,        # for receipt status URLs; default: the request's host URL
    "LOAD_SHIPPED": True,
    "CALENDAR_OVERRIDES": {},       # {year: {"days_off": [...], "workdays": [...]}}
    "USER_CACHE_SECONDS": 30,
    "PASSWORD_PROFILE": "rfc9106_low_memory",   # argon2id parameters; "cheapest" only for test suites
    "STORE_TIMEOUT_MS": 5000,       # how long a request waits for an unreachable store before a 503
    "ENCRYPTION_KEY": None,         # Fernet key(s) for x-sensitive fields, comma-separated, newest first
}


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
    public_base_url: str | None = None
    load_shipped: bool = True
    calendar_overrides: Mapping[Any, Any] = field(default_factory=dict)
    user_cache_seconds: int = 30
    password_profile: str = "rfc9106_low_memory"
    encryption_key: str | None = field(default=None, repr=False)
    store_timeout_ms: int = 5000

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> "Settings":
        """Read `COUNTERFLOW_<NAME>` from `config`, falling back to the environment, then defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = "COUNTERFLOW_" + f.name.upper()
            raw = config.get(key, os.environ.get(key, DEFAULTS[f.name.upper()]))
            values[f.name] = _coerce(f.name, raw, DEFAULTS[f.name.upper()])
        values["url_prefix"] = values["url_prefix"].rstrip("/")
        values["data_dir"] = Path(values["data_dir"]).expanduser()
        return cls(**values)


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if raw is None or raw == "":
        return default if raw is None or isinstance(default, str) else default
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"COUNTERFLOW_{name.upper()} must be a whole number, got {raw!r}") from exc
    return raw
