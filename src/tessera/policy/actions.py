"""Action names (``<service>:<ActionName>``) and the Action/NotAction element.

Owns: the grammar of an action pattern and case-insensitive action matching (RAM documents
action names as "generally case-insensitive", spec sts-ram.md 4.2).
Must not: list which actions exist (the RPC and OSS tables own that) or do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .wildcard import Matcher, compile_any

__all__ = ["compile_actions", "is_action_pattern", "normalize_action"]

_ACTION = re.compile(r"\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_.-]+")


def is_action_pattern(pattern: str) -> bool:
    """``*`` or ``service:Name``, where both parts may hold ``*``/``?`` wildcards."""
    return _ACTION.fullmatch(pattern) is not None


def normalize_action(action: str) -> str:
    """The form in which actions are compared: lower case."""
    return action.lower()


def compile_actions(patterns: Iterable[str], *, negate: bool = False) -> Matcher:
    """Predicate over a normalised action; ``negate`` builds a NotAction element."""
    matches = compile_any(normalize_action(pattern) for pattern in patterns)
    if negate:
        return lambda action: not matches(action)
    return matches
