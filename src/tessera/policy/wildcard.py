"""The single ``*`` / ``?`` wildcard matcher of the RAM policy language.

Owns: turning a policy pattern (``*`` = any run of characters, including none; ``?`` = exactly one
character; everything else literal) into a compiled predicate, once, at parse time.
Must not: know what is being matched (actions, resources, condition values), fold case (callers
normalise both sides), or do I/O.

Patterns with several ``*`` are compiled so that every inner literal run is matched at its earliest
position inside an atomic group: the regex engine never backtracks into it, which keeps matching
linear in the subject even for hostile patterns such as ``*a*a*a*a*b``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

__all__ = ["Matcher", "compile_any", "compile_wildcard", "has_wildcard", "regex_source"]

Matcher = Callable[[str], bool]


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _always(_: str) -> bool:
    return True


def _never(_: str) -> bool:
    return False


def _literal_run(run: str) -> str:
    return ".".join(re.escape(part) for part in run.split("?"))


def regex_source(pattern: str) -> str:
    """Regex source (for ``re.fullmatch`` with ``re.DOTALL``) equivalent to ``pattern``."""
    runs = pattern.split("*")
    if len(runs) == 1:
        return _literal_run(pattern)
    middle = "".join(f"(?>.*?{_literal_run(run)})" for run in runs[1:-1] if run)
    return _literal_run(runs[0]) + middle + ".*" + _literal_run(runs[-1])


def _only_star_at(pattern: str) -> str | None:
    """``"prefix"``/``"suffix"`` when the only wildcard is one trailing/leading ``*``."""
    if "?" in pattern or pattern.count("*") != 1:
        return None
    if pattern.endswith("*"):
        return "prefix"
    if pattern.startswith("*"):
        return "suffix"
    return None


@lru_cache(maxsize=4096)
def compile_wildcard(pattern: str) -> Matcher:
    """A predicate telling whether a whole string matches ``pattern`` (case-sensitive)."""
    if pattern == "*":
        return _always
    if not has_wildcard(pattern):
        return pattern.__eq__
    shape = _only_star_at(pattern)
    if shape == "prefix":
        prefix = pattern[:-1]
        return lambda subject: subject.startswith(prefix)
    if shape == "suffix":
        suffix = pattern[1:]
        return lambda subject: subject.endswith(suffix)
    fullmatch = re.compile(regex_source(pattern), re.DOTALL).fullmatch
    return lambda subject: fullmatch(subject) is not None


def compile_any(patterns: Iterable[str]) -> Matcher:
    """A predicate telling whether a string matches at least one of ``patterns``.

    Literal patterns become one set lookup, ``prefix*`` patterns one ``startswith`` call, and the
    rest one alternation, so the cost barely grows with the number of patterns.
    """
    exact: set[str] = set()
    prefixes: list[str] = []
    others: list[str] = []
    for pattern in patterns:
        if pattern == "*":
            return _always
        if not has_wildcard(pattern):
            exact.add(pattern)
        elif _only_star_at(pattern) == "prefix":
            prefixes.append(pattern[:-1])
        else:
            others.append(pattern)
    return _assemble(frozenset(exact), tuple(prefixes), others)


def _assemble(exact: frozenset[str], prefixes: tuple[str, ...], others: list[str]) -> Matcher:
    if not others:
        if not prefixes:
            return exact.__contains__ if exact else _never
        if not exact:
            return lambda subject: subject.startswith(prefixes)
        return lambda subject: subject in exact or subject.startswith(prefixes)
    source = "|".join(f"(?:{regex_source(pattern)})" for pattern in others)
    fullmatch = re.compile(source, re.DOTALL).fullmatch
    return lambda subject: (
        subject in exact or subject.startswith(prefixes) or fullmatch(subject) is not None
    )
