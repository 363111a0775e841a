"""Reads of workflow versions beyond the client's whole-collection list: one version, one process's versions.

Each query is an `_id` look-up or an equality on `key`, which has a single-field index of its own
(models.WorkflowVersion); tests/test_explain_workflows.py proves the server serves them from it.
Writes go through `Store.insert_workflow_version` and `Store.commit` like every other object.
"""
from __future__ import annotations

from typing import Any

from counterflow.core.errors import NotFound
from counterflow.store.client import Store

Doc = dict[str, Any]


def version(store: Store, key: str, number: int) -> Doc:
    """Version `number` of process `key`, or NotFound."""
    doc = store.workflows.find_one({"_id": f"{key}@{number}"})
    if doc is None:
        raise NotFound(f"workflow '{key}' has no version {number}", code="workflow_not_found")
    return doc


def versions(store: Store, key: str) -> list[Doc]:
    """Every version of process `key`, oldest first (a handful per process)."""
    return list(store.workflows.find({"key": key}).sort([("version", 1)]))


def latest(store: Store, key: str) -> Doc | None:
    """The highest version of process `key`, whatever its state."""
    found = list(store.workflows.find({"key": key}).sort([("version", -1)]).limit(1))
    return found[0] if found else None
