"""The roles a person can hold, and which of them see every record."""
from __future__ import annotations

ROLES = ("admin", "clerk", "reviewer", "dept_head", "manager", "archivist", "supervisor", "auditor")
STAFF = frozenset(ROLES) - {"admin"}
RECORD_WIDE_ROLES = frozenset({"manager", "supervisor", "auditor", "archivist"})
