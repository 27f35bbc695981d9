"""The Condition element: the ``OPERATORS`` table and compiling a condition block.

Owns: one row per operator (how a policy value is parsed, how a context value is tested against
the parsed values, whether the operator is negated) and the AWS IAM semantics around it: a missing
key makes positive operators false and negated operators true; ``...IfExists`` makes a missing key
true; ``ForAllValues:`` is true on a missing or empty key, ``ForAnyValue:`` false; ``Null`` tests
presence. Several values for one key are ORed, several keys and several operators ANDed
(spec sts-ram.md 4.3). Policy values are parsed once, here, at compile time.
Must not: know about statements or effects (the caller says what a broken entry defaults to in
lenient mode), read a clock, or do I/O.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from ipaddress import ip_address, ip_network
from typing import Any

from tessera.errors import MalformedPolicy

from .wildcard import compile_any

__all__ = ["OPERATORS", "Condition", "Context", "Operator", "compile_conditions"]

Context = Mapping[str, tuple[str, ...]]
Condition = Callable[[Context], bool]
Test = Callable[[str], bool]  # does one context value match at least one policy value?


@dataclass(frozen=True, slots=True)
class Operator:
    """``parse(value, key)`` checks one policy value (``ValueError(reason)`` if bad) and returns its
    compiled form; ``build(parsed)`` returns the positive test; ``negated`` flips it; ``presence``
    marks ``Null``, which looks at whether the key exists rather than at its values."""

    parse: Callable[[str, str], Any]
    build: Callable[[tuple[Any, ...]], Test] | None
    negated: bool = False
    presence: bool = False


# --- policy value parsers -------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")
_TRUE_WORDS = {"true": True, "false": False}
_TRANSPORT_WORDS = {"true": True, "false": False, "https": True, "http": False}
_SECURE_TRANSPORT = "acs:securetransport"


def _parse_string(value: str, key: str) -> str:
    return value


def _parse_number(value: str, key: str = "") -> float | int:
    try:
        if _INTEGER.fullmatch(value):
            return int(value)  # may refuse thousands of digits (sys.int_info)
        if _NUMBER.fullmatch(value) and math.isfinite(number := float(value)):
            return number
    except ValueError:
        pass
    raise ValueError("is not a number")


def _parse_date(value: str, key: str = "") -> float:
    if _EPOCH.fullmatch(value):
        return float(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not an ISO-8601 date or epoch seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_bool(value: str, key: str) -> bool:
    # spec 4.3 conflict: OSS documents acs:SecureTransport as HTTP/HTTPS, RAM as a Boolean.
    words = _TRANSPORT_WORDS if key.lower() == _SECURE_TRANSPORT else _TRUE_WORDS
    word = words.get(value.lower())
    if word is None:
        raise ValueError('is not "true" or "false"')
    return word


def _parse_null(value: str, key: str) -> bool:
    word = _TRUE_WORDS.get(value.lower())
    if word is None:
        raise ValueError('is not "true" or "false"')
    return word


_Network = tuple[int, int, int]  # version, network address, netmask


def _parse_network(value: str, key: str) -> _Network:
    try:
        network = ip_network(value, strict=False)
    except ValueError:
        raise ValueError("is not an IP address or CIDR") from None
    return network.version, int(network.network_address), int(network.netmask)


# --- context value parsers (memoised: the same few values recur request after request) -------


def _context_number(value: str) -> float | int | None:
    try:
        return _parse_number(value)
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _context_date(value: str) -> float | None:
    try:
        return _parse_date(value)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _context_ip(value: str) -> tuple[int, int] | None:
    try:
        address = ip_address(value)
    except ValueError:
        return None
    return address.version, int(address)


# --- test builders: one per operator family --------------------------------------------------


def _string_equals(values: tuple[str, ...]) -> Test:
    return frozenset(values).__contains__


def _string_equals_ignore_case(values: tuple[str, ...]) -> Test:
    folded = frozenset(value.casefold() for value in values)
    return lambda subject: subject.casefold() in folded


def _string_like(values: tuple[str, ...]) -> Test:
    return compile_any(values)


_Compare = Callable[[Any, Any], bool]


def _ordered(convert: Callable[[str], Any], compare: _Compare) -> Callable[[tuple[Any, ...]], Test]:
    def build(values: tuple[Any, ...]) -> Test:
        def test(subject: str) -> bool:
            converted = convert(subject)
            return converted is not None and any(compare(converted, v) for v in values)

        return test

    return build


def _numeric(compare: _Compare) -> Callable[[tuple[Any, ...]], Test]:
    return _ordered(_context_number, compare)


def _date(compare: _Compare) -> Callable[[tuple[Any, ...]], Test]:
    return _ordered(_context_date, compare)


def _bool(values: tuple[bool, ...]) -> Test:
    wanted = frozenset(values)
    return lambda subject: _TRANSPORT_WORDS.get(subject.lower()) in wanted


def _ip_address(values: tuple[_Network, ...]) -> Test:
    def test(subject: str) -> bool:
        parsed = _context_ip(subject)
        if parsed is None:
            return False
        version, address = parsed
        for v, net, mask in values:  # noqa: SIM110 - a loop, not any(): no generator per call
            if v == version and address & mask == net:
                return True
        return False

    return test


_eq, _lt, _le, _gt, _ge = operator.eq, operator.lt, operator.le, operator.gt, operator.ge

OPERATORS: dict[str, Operator] = {
    "StringEquals": Operator(_parse_string, _string_equals),
    "StringNotEquals": Operator(_parse_string, _string_equals, negated=True),
    "StringEqualsIgnoreCase": Operator(_parse_string, _string_equals_ignore_case),
    "StringNotEqualsIgnoreCase": Operator(_parse_string, _string_equals_ignore_case, negated=True),
    "StringLike": Operator(_parse_string, _string_like),
    "StringNotLike": Operator(_parse_string, _string_like, negated=True),
    "NumericEquals": Operator(_parse_number, _numeric(_eq)),
    "NumericNotEquals": Operator(_parse_number, _numeric(_eq), negated=True),
    "NumericLessThan": Operator(_parse_number, _numeric(_lt)),
    "NumericLessThanEquals": Operator(_parse_number, _numeric(_le)),
    "NumericGreaterThan": Operator(_parse_number, _numeric(_gt)),
    "NumericGreaterThanEquals": Operator(_parse_number, _numeric(_ge)),
    "DateEquals": Operator(_parse_date, _date(_eq)),
    "DateNotEquals": Operator(_parse_date, _date(_eq), negated=True),
    "DateLessThan": Operator(_parse_date, _date(_lt)),
    "DateLessThanEquals": Operator(_parse_date, _date(_le)),
    "DateGreaterThan": Operator(_parse_date, _date(_gt)),
    "DateGreaterThanEquals": Operator(_parse_date, _date(_ge)),
    "Bool": Operator(_parse_bool, _bool),
    "IpAddress": Operator(_parse_network, _ip_address),
    "NotIpAddress": Operator(_parse_network, _ip_address, negated=True),
    "Null": Operator(_parse_null, None, presence=True),
}

_FOLDED = {name.lower(): name for name in OPERATORS}
_FOLDED_QUALIFIERS = {"foranyvalue": "ForAnyValue", "forallvalues": "ForAllValues"}
_IF_EXISTS = "IfExists"


# --- conditions: how a test meets the (possibly missing, possibly multi-valued) context -------


def _any_matches(key: str, test: Test, missing: bool) -> Condition:
    def condition(context: Context) -> bool:
        values = context.get(key)
        if not values:
            return missing
        for value in values:  # noqa: SIM110 - a loop, not any()/all(): no generator per call
            if test(value):
                return True
        return False

    return condition


def _none_matches(key: str, test: Test, missing: bool) -> Condition:
    def condition(context: Context) -> bool:
        values = context.get(key)
        if not values:
            return missing
        for value in values:  # noqa: SIM110 - a loop, not any()/all(): no generator per call
            if test(value):
                return False
        return True

    return condition


def _all_match(key: str, test: Test, missing: bool) -> Condition:
    def condition(context: Context) -> bool:
        values = context.get(key)
        if not values:
            return missing
        for value in values:  # noqa: SIM110 - a loop, not any()/all(): no generator per call
            if not test(value):
                return False
        return True

    return condition


def _some_mismatch(key: str, test: Test, missing: bool) -> Condition:
    def condition(context: Context) -> bool:
        values = context.get(key)
        if not values:
            return missing
        for value in values:  # noqa: SIM110 - a loop, not any()/all(): no generator per call
            if not test(value):
                return True
        return False

    return condition


_SHAPES: dict[tuple[str | None, bool], Callable[[str, Test, bool], Condition]] = {
    (None, False): _any_matches,
    (None, True): _none_matches,
    ("ForAnyValue", False): _any_matches,
    ("ForAnyValue", True): _some_mismatch,
    ("ForAllValues", False): _all_match,
    ("ForAllValues", True): _none_matches,
}


def _when_missing(qualifier: str | None, negated: bool, if_exists: bool) -> bool:
    if if_exists or qualifier == "ForAllValues":
        return True
    return negated and qualifier is None


def _presence(key: str, wanted_absent: tuple[bool, ...]) -> Condition:
    def condition(context: Context) -> bool:
        absent = not context.get(key)
        return any(absent == want for want in wanted_absent)

    return condition


# --- compiling a block ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Resolved:
    operator: Operator
    qualifier: str | None
    if_exists: bool


def _fail(place: str, reason: str) -> MalformedPolicy:
    return MalformedPolicy(f"{place}: {reason}")


def _canonical(name: str, table: Mapping[str, str], strict: bool) -> str | None:
    if strict:
        return name if name in table.values() else None
    return table.get(name.lower())


def _resolve(name: str, strict: bool) -> _Resolved | None:
    """Split ``[ForAnyValue:|ForAllValues:]<Operator>[IfExists]``; exact case unless lenient."""
    prefix, colon, base = name.rpartition(":")
    qualifier = _canonical(prefix, _FOLDED_QUALIFIERS, strict) if colon else None
    if colon and qualifier is None:
        return None
    ends = base.endswith if strict else base.lower().endswith
    if_exists = ends(_IF_EXISTS if strict else _IF_EXISTS.lower())
    canonical = _canonical(base[: -len(_IF_EXISTS)] if if_exists else base, _FOLDED, strict)
    if canonical is None:
        return None
    op = OPERATORS[canonical]
    if op.presence and (qualifier or if_exists):
        return None
    return _Resolved(op, qualifier, if_exists)


def _as_text(value: object, place: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    raise _fail(place, "must be a string, number or boolean")


def _values(raw: object, place: str) -> list[tuple[str, str]]:
    """(value, place) pairs; a list value gets an index in its place, a scalar does not."""
    if isinstance(raw, list):
        if not raw:
            raise _fail(place, "must hold at least one value")
        return [(_as_text(v, f"{place}[{i}]"), f"{place}[{i}]") for i, v in enumerate(raw)]
    return [(_as_text(raw, place), place)]


def _parse_values(resolved: _Resolved, key: str, raw: object, place: str) -> tuple[Any, ...]:
    parsed = []
    for text, value_place in _values(raw, place):
        try:
            parsed.append(resolved.operator.parse(text, key))
        except ValueError as exc:
            raise _fail(value_place, f"{_quote(text)} {exc}") from None
    return tuple(parsed)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _compile_entry(resolved: _Resolved, key: str, raw: object, place: str) -> Condition:
    if not key:
        raise _fail(place, "a condition key must not be empty")
    parsed = _parse_values(resolved, key, raw, place)
    op = resolved.operator
    if op.presence:
        return _presence(key.lower(), parsed)
    assert op.build is not None  # only presence operators (Null) have no value test
    shape = _SHAPES[(resolved.qualifier, op.negated)]
    missing = _when_missing(resolved.qualifier, op.negated, resolved.if_exists)
    return shape(key.lower(), op.build(parsed), missing)


def _compile_operator(name: str, entries: object, place: str, strict: bool) -> list[Condition]:
    resolved = _resolve(name, strict)
    if resolved is None:
        raise _fail(place, f"unknown condition operator {_quote(name)}")
    if not isinstance(entries, Mapping):
        raise _fail(f"{place}.{name}", "must be an object of condition keys")
    return [
        _compile_entry(resolved, key, raw, f"{place}.{name}[{_quote(key)}]")
        for key, raw in entries.items()
    ]


def _constant(result: bool) -> Condition:
    return lambda context: result


def compile_conditions(
    block: object, place: str, *, strict: bool, fallback: bool
) -> tuple[Condition, ...]:
    """Compile a Condition element found at ``place`` into conditions that must all hold.

    Strict mode raises :class:`MalformedPolicy` naming the first bad place. Lenient mode replaces
    each operator it cannot compile with the constant ``fallback`` (the caller passes the value
    that fails closed for its statement: true for Deny, false for Allow).
    """
    if not isinstance(block, Mapping):
        if strict:
            raise _fail(place, "must be an object of condition operators")
        return (_constant(fallback),)
    compiled: list[Condition] = []
    for name, entries in block.items():
        try:
            compiled.extend(_compile_operator(str(name), entries, place, strict))
        except MalformedPolicy:
            if strict:
                raise
            compiled.append(_constant(fallback))
    return tuple(compiled)
