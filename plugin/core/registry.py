"""Names a workflow file may use for guards, branch conditions and actions.

Definitions never name Python: they name entries here, and a name that is not registered
is refused when the definition is checked.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

Guard = Callable[[Any], list[dict[str, str]]]      # context -> problems (empty: passes)
Condition = Callable[[Any], bool]                   # context -> take the branch?
Action = Callable[[Any], dict[str, Any]]            # context -> fields to set with the transition

GUARDS: dict[str, Guard] = {}
CONDITIONS: dict[str, Condition] = {}
ACTIONS: dict[str, Action] = {}

F = TypeVar("F", bound=Callable[..., Any])


def _register(table: dict[str, Any], name: str) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        if name in table:
            raise ValueError(f"'{name}' is registered twice")
        table[name] = func
        return func
    return decorate


def guard(name: str) -> Callable[[F], F]:
    return _register(GUARDS, name)


def condition(name: str) -> Callable[[F], F]:
    return _register(CONDITIONS, name)


def action(name: str) -> Callable[[F], F]:
    return _register(ACTIONS, name)
