"""ACS resource names and the Resource/NotResource element.

Owns: the ``acs:<service>:<region>:<account>:<relative-id>`` grammar, splitting a name into its
five segments, and matching patterns against names segment by segment (a wildcard in the region or
account segment never spans a ``:``), case-sensitively except for RAM role names, which are compared
case-insensitively (spec sts-ram.md 3.4 / 4.2).
Must not: build resource names for a service (``oss/authz.py`` shapes bucket/key names) or do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .wildcard import Matcher, compile_any, compile_wildcard

__all__ = [
    "ResourceMatcher",
    "ResourceName",
    "compile_resources",
    "is_resource_pattern",
    "normalize_arn",
    "resource_name",
]

_PATTERN = re.compile(r"\*|acs:[A-Za-z0-9*?-]+:[^:]*:[^:]*:.+")
_ROLE_PREFIXES = ("role/", "assumed-role/")


@dataclass(frozen=True, slots=True)
class ResourceName:
    """A name split once per request: ``parts`` holds the five ACS segments, or is ``None``."""

    full: str
    parts: tuple[str, ...] | None


ResourceMatcher = Callable[[ResourceName], bool]


def is_resource_pattern(pattern: str) -> bool:
    return _PATTERN.fullmatch(pattern) is not None


def normalize_arn(name: str) -> str:
    """``name`` with the role name of a RAM role / assumed-role ARN lower-cased."""
    if not name.startswith("acs:ram:"):
        return name
    parts = name.split(":", 4)
    if len(parts) != 5:
        return name
    for prefix in _ROLE_PREFIXES:
        if parts[4].startswith(prefix):
            role, sep, tail = parts[4][len(prefix) :].partition("/")
            parts[4] = prefix + role.lower() + sep + tail
            return ":".join(parts)
    return name


def resource_name(name: str) -> ResourceName:
    full = normalize_arn(name)
    parts = tuple(full.split(":", 4))
    return ResourceName(full, parts if len(parts) == 5 and parts[0] == "acs" else None)


def _always(_: ResourceName) -> bool:
    return True


def compile_resources(patterns: Iterable[str], *, negate: bool = False) -> ResourceMatcher:
    """Predicate over a :class:`ResourceName`; ``negate`` builds a NotResource element."""
    matches = _compile_positive([normalize_arn(pattern) for pattern in patterns])
    if negate:
        return lambda name: not matches(name)
    return matches


_Head = tuple[str, str, str]


def _compile_positive(patterns: list[str]) -> ResourceMatcher:
    if "*" in patterns:
        return _always
    by_head: dict[_Head, list[str]] = {}
    whole: list[str] = []
    for pattern in patterns:
        parts = pattern.split(":", 4)
        if len(parts) == 5 and parts[0] == "acs":
            by_head.setdefault((parts[1], parts[2], parts[3]), []).append(parts[4])
        else:
            whole.append(pattern)
    segmented = tuple(_compile_head(head, rel) for head, rel in by_head.items())
    whole_match = compile_any(whole) if whole else None
    return _assemble(segmented, whole_match)


_Checks = tuple[tuple[int, Matcher], ...]


def _any_region(index: int, segment: str) -> bool:
    """RAM and STS are global: an empty region, as in a RoleArn copied into a policy
    (``acs:ram::<acct>:role/x``), means any region, like ``*``."""
    return segment == "*" or (index == 1 and segment == "")


def _compile_head(head: _Head, relatives: list[str]) -> _Checks:
    checks = [
        (i + 1, compile_wildcard(seg)) for i, seg in enumerate(head) if not _any_region(i, seg)
    ]
    checks.append((4, compile_any(relatives)))
    return tuple(checks)


def _assemble(segmented: tuple[_Checks, ...], whole: Matcher | None) -> ResourceMatcher:
    def match(name: ResourceName) -> bool:
        parts = name.parts
        if parts is not None:
            for checks in segmented:
                for i, check in checks:
                    if not check(parts[i]):
                        break
                else:
                    return True
        return whole is not None and whole(name.full)

    return match
