"""The single ``*``/``?`` matcher.

Spec sts-ram.md 4.2: ``*`` is any run of characters including none, ``?`` exactly one character.
"""

from __future__ import annotations

import time

import pytest

from tessera.policy.wildcard import compile_any, compile_wildcard, has_wildcard

CASES = [
    # (pattern, subject, expected)
    ("*", "", True),
    ("*", "anything at all", True),
    ("abc", "abc", True),
    ("abc", "abcd", False),
    ("abc", "ABC", False),  # case-sensitive; callers fold case when they need to
    ("", "", True),
    ("", "a", False),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ba", False),
    ("*c", "abc", True),
    ("*c", "c", True),
    ("*c", "cb", False),
    ("a*c", "ac", True),
    ("a*c", "abbbc", True),
    ("a*c", "abcd", False),
    ("?", "a", True),
    ("?", "", False),
    ("?", "ab", False),
    ("a?c", "abc", True),
    ("a?c", "ac", False),
    ("??", "ab", True),
    ("*?", "", False),
    ("*?", "x", True),
    ("a*b*c", "abc", True),
    ("a*b*c", "aXbYc", True),
    ("a*b*c", "acb", False),
    ("*ab*ab", "abab", True),
    ("*ab*ab", "ab", False),
    ("*a*a*", "aa", True),
    ("*a*a*", "a", False),
    ("a**b", "ab", True),
    ("2015/01/01/*.jpg", "2015/01/01/a.jpg", True),
    ("2015/01/01/*.jpg", "2015/01/01/sub/a.jpg", True),  # '*' also spans '/'
    ("2015/01/01/*.jpg", "2015/01/01/a.png", False),
    ("a.c", "abc", False),  # regex metacharacters are literal
    ("a+c", "a+c", True),
    ("(x)", "(x)", True),
    ("[ab]", "a", False),
    ("[ab]", "[ab]", True),
    ("line*end", "line\nmiddle\nend", True),  # '*' spans newlines too
    ("?", "\n", True),
    ("*x?y*", "axbyc", True),
    ("*x?y*", "axyc", False),
]


@pytest.mark.parametrize(("pattern", "subject", "expected"), CASES)
def test_compile_wildcard(pattern: str, subject: str, expected: bool) -> None:
    assert compile_wildcard(pattern)(subject) is expected


@pytest.mark.parametrize(("pattern", "subject", "expected"), CASES)
def test_compile_any_of_one_pattern_agrees(pattern: str, subject: str, expected: bool) -> None:
    assert compile_any([pattern])(subject) is expected


ANY_CASES = [
    ([], "x", False),
    (["a", "b"], "b", True),
    (["a", "b"], "c", False),
    (["a*", "b"], "abc", True),
    (["a*", "*z"], "xyz", True),
    (["a*", "*z"], "xyq", False),
    (["x?z", "lit"], "xyz", True),
    (["x?z", "lit"], "lit", True),
    (["x?z", "lit"], "li", False),
    (["nope", "*"], "whatever", True),
]


@pytest.mark.parametrize(("patterns", "subject", "expected"), ANY_CASES)
def test_compile_any(patterns: list[str], subject: str, expected: bool) -> None:
    assert compile_any(patterns)(subject) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"), [("abc", False), ("a*", True), ("a?", True), ("", False)]
)
def test_has_wildcard(pattern: str, expected: bool) -> None:
    assert has_wildcard(pattern) is expected


def test_hostile_pattern_stays_linear() -> None:
    # A naive backtracking translation needs ~n**k steps here; ours finds each run once.
    pattern = "*a" * 25 + "*b"
    subject = "a" * 20_000
    started = time.perf_counter()
    assert compile_wildcard(pattern)(subject) is False
    assert compile_any([pattern, "*a*a*c"])(subject) is False
    assert time.perf_counter() - started < 1.0
