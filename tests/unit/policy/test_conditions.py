"""Condition operators, one table per family, with AWS IAM semantics for missing keys,
``...IfExists``, ``ForAnyValue:``/``ForAllValues:`` and ``Null`` (spec sts-ram.md 4.3; AWS IAM
"Condition operators": a missing key makes a condition false, except that negated operators such as
StringNotLike are then true, and ``...IfExists`` / ``Null`` test presence)."""

from __future__ import annotations

from typing import Any

import pytest

from tessera.errors import MalformedPolicy
from tessera.policy import OPERATORS, AuthzRequest
from tessera.policy.conditions import compile_conditions

Ctx = dict[str, tuple[str, ...]]


def holds(
    block: dict[str, Any], context: Ctx, *, strict: bool = True, fallback: bool = False
) -> bool:
    conditions = compile_conditions(block, "Condition", strict=strict, fallback=fallback)
    lookup = AuthzRequest(None, "x:y", "*", context).context_lookup
    return all(condition(lookup) for condition in conditions)


def k(*values: str) -> Ctx:
    return {"k": values}


MISSING: Ctx = {}

STRING = [
    ({"StringEquals": {"k": "v"}}, k("v"), True),
    ({"StringEquals": {"k": "v"}}, k("V"), False),  # case-sensitive
    ({"StringEquals": {"k": "v"}}, k("vv"), False),
    ({"StringEquals": {"k": "v"}}, MISSING, False),
    ({"StringEquals": {"k": ["a", "b"]}}, k("b"), True),  # values OR
    ({"StringEquals": {"k": ["a", "b"]}}, k("c"), False),
    ({"StringEquals": {"k": "a*"}}, k("abc"), False),  # no wildcards in Equals
    ({"StringEquals": {"k": 5}}, k("5"), True),  # JSON number given as a value
    ({"StringEquals": {"k": True}}, k("true"), True),
    ({"StringNotEquals": {"k": ["a", "b"]}}, k("c"), True),
    ({"StringNotEquals": {"k": ["a", "b"]}}, k("a"), False),
    ({"StringNotEquals": {"k": "a"}}, MISSING, True),  # negated + missing → true
    ({"StringEqualsIgnoreCase": {"k": "ABC"}}, k("abc"), True),
    ({"StringEqualsIgnoreCase": {"k": "ABC"}}, k("abd"), False),
    ({"StringEqualsIgnoreCase": {"k": "ABC"}}, MISSING, False),
    ({"StringNotEqualsIgnoreCase": {"k": "ABC"}}, k("aBc"), False),
    ({"StringNotEqualsIgnoreCase": {"k": "ABC"}}, k("xyz"), True),
    ({"StringNotEqualsIgnoreCase": {"k": "ABC"}}, MISSING, True),
    ({"StringLike": {"k": "a*"}}, k("abc"), True),
    ({"StringLike": {"k": "a*"}}, k("ABC"), False),  # Like is case-sensitive
    ({"StringLike": {"k": "a?c"}}, k("abc"), True),
    ({"StringLike": {"k": ["x*", "*z"]}}, k("abz"), True),
    ({"StringLike": {"k": "a*"}}, MISSING, False),
    ({"StringNotLike": {"k": "a*"}}, k("xyz"), True),
    ({"StringNotLike": {"k": "a*"}}, k("abc"), False),
    ({"StringNotLike": {"k": "a*"}}, MISSING, True),
]

NUMERIC = [
    ({"NumericEquals": {"k": "10"}}, k("10"), True),
    ({"NumericEquals": {"k": "10"}}, k("10.0"), True),  # compared as numbers
    ({"NumericEquals": {"k": 10}}, k("010"), True),
    ({"NumericEquals": {"k": "10"}}, k("11"), False),
    ({"NumericEquals": {"k": "10"}}, k("ten"), False),
    ({"NumericEquals": {"k": ["1", "2"]}}, k("2"), True),
    ({"NumericEquals": {"k": "10"}}, MISSING, False),
    ({"NumericNotEquals": {"k": "10"}}, k("11"), True),
    ({"NumericNotEquals": {"k": "10"}}, k("10"), False),
    ({"NumericNotEquals": {"k": ["1", "2"]}}, k("2"), False),
    ({"NumericNotEquals": {"k": "10"}}, MISSING, True),
    ({"NumericLessThan": {"k": "10"}}, k("9"), True),
    ({"NumericLessThan": {"k": "10"}}, k("10"), False),
    ({"NumericLessThan": {"k": "1.5"}}, k("1.25"), True),
    ({"NumericLessThan": {"k": "10"}}, k("-3"), True),
    ({"NumericLessThan": {"k": "10"}}, MISSING, False),
    ({"NumericLessThanEquals": {"k": "10"}}, k("10"), True),
    ({"NumericLessThanEquals": {"k": "10"}}, k("10.5"), False),
    ({"NumericGreaterThan": {"k": "10"}}, k("11"), True),
    ({"NumericGreaterThan": {"k": "10"}}, k("10"), False),
    ({"NumericGreaterThan": {"k": "1e3"}}, k("1001"), True),
    ({"NumericGreaterThanEquals": {"k": "10"}}, k("10"), True),
    ({"NumericGreaterThanEquals": {"k": "10"}}, k("9.99"), False),
]

NOW = "2025-06-01T12:00:00Z"
DATE = [
    (
        {"DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}},
        {"acs:CurrentTime": (NOW,)},
        True,
    ),
    (
        {"DateLessThan": {"acs:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"acs:CurrentTime": (NOW,)},
        False,
    ),
    ({"DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}}, MISSING, False),
    ({"DateLessThanEquals": {"k": NOW}}, k(NOW), True),
    ({"DateGreaterThan": {"k": "2025-06-01T11:59:59Z"}}, k(NOW), True),
    ({"DateGreaterThan": {"k": NOW}}, k(NOW), False),
    ({"DateGreaterThanEquals": {"k": NOW}}, k(NOW), True),
    # the same instant written with an offset, as epoch seconds, and with a date only
    ({"DateEquals": {"k": "2025-01-01T08:00:00+08:00"}}, k("2025-01-01T00:00:00Z"), True),
    ({"DateEquals": {"k": "1735689600"}}, k("2025-01-01T00:00:00Z"), True),
    ({"DateEquals": {"k": "2025-01-01"}}, k("2025-01-01T00:00:00Z"), True),
    ({"DateEquals": {"k": 1735689600}}, k("1735689600"), True),
    ({"DateLessThan": {"k": "2030-01-01T00:00:00Z"}}, k("1735689600"), True),
    ({"DateGreaterThan": {"k": "2025-01-01T00:00:00Z"}}, k("2025-01-01T00:00:00.5Z"), True),
    ({"DateEquals": {"k": NOW}}, k("2025-06-01T12:00:01Z"), False),
    ({"DateNotEquals": {"k": NOW}}, k("2025-06-01T12:00:01Z"), True),
    ({"DateNotEquals": {"k": NOW}}, k(NOW), False),
    ({"DateNotEquals": {"k": NOW}}, MISSING, True),
    ({"DateLessThan": {"k": NOW}}, k("yesterday"), False),  # unreadable context value
]

BOOL = [
    ({"Bool": {"acs:SecureTransport": "true"}}, {"acs:SecureTransport": ("true",)}, True),
    ({"Bool": {"acs:SecureTransport": "true"}}, {"acs:SecureTransport": ("false",)}, False),
    ({"Bool": {"acs:SecureTransport": "true"}}, {"acs:SecureTransport": ("TRUE",)}, True),
    ({"Bool": {"acs:SecureTransport": "true"}}, MISSING, False),
    ({"Bool": {"acs:SecureTransport": True}}, {"acs:SecureTransport": ("true",)}, True),
    # spec 4.3 conflict: OSS writes acs:SecureTransport as HTTPS/HTTP
    ({"Bool": {"acs:SecureTransport": "HTTPS"}}, {"acs:SecureTransport": ("true",)}, True),
    ({"Bool": {"acs:SecureTransport": "HTTPS"}}, {"acs:SecureTransport": ("false",)}, False),
    ({"Bool": {"acs:SecureTransport": "http"}}, {"acs:SecureTransport": ("false",)}, True),
    ({"Bool": {"acs:MFAPresent": "false"}}, {"acs:MFAPresent": ("false",)}, True),
    ({"Bool": {"acs:MFAPresent": "false"}}, {"acs:MFAPresent": ("true",)}, False),
    ({"Bool": {"acs:MFAPresent": "true"}}, {"acs:MFAPresent": ("yes",)}, False),
]

IP = [
    ({"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}, {"acs:SourceIp": ("10.1.2.3",)}, True),
    ({"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}, {"acs:SourceIp": ("11.0.0.1",)}, False),
    ({"IpAddress": {"acs:SourceIp": "192.168.1.5"}}, {"acs:SourceIp": ("192.168.1.5",)}, True),
    ({"IpAddress": {"acs:SourceIp": "192.168.1.5"}}, {"acs:SourceIp": ("192.168.1.6",)}, False),
    (
        {"IpAddress": {"acs:SourceIp": ["1.2.3.4", "10.0.0.0/8"]}},
        {"acs:SourceIp": ("10.9.9.9",)},
        True,
    ),
    ({"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}, MISSING, False),
    # host bits set: taken as the network (spec 4.3 shows 116.62.XX.XX/24)
    ({"IpAddress": {"acs:SourceIp": "10.1.2.3/8"}}, {"acs:SourceIp": ("10.200.0.1",)}, True),
    ({"IpAddress": {"acs:SourceIp": "2001:db8::/32"}}, {"acs:SourceIp": ("2001:db8::1",)}, True),
    ({"IpAddress": {"acs:SourceIp": "2001:db8::/32"}}, {"acs:SourceIp": ("2001:db9::1",)}, False),
    ({"IpAddress": {"acs:SourceIp": "2001:db8::/32"}}, {"acs:SourceIp": ("10.0.0.1",)}, False),
    ({"IpAddress": {"acs:SourceIp": "0.0.0.0/0"}}, {"acs:SourceIp": ("2001:db8::1",)}, False),
    ({"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}, {"acs:SourceIp": ("not-an-ip",)}, False),
    (
        {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        {"acs:SourceIp": ("8.8.8.8",)},
        True,
    ),
    (
        {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        {"acs:SourceIp": ("192.168.3.3",)},
        False,
    ),
    ({"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}}, MISSING, True),
]

QUALIFIED = [
    ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, k("c", "b"), True),
    ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, k("c", "d"), False),
    ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, MISSING, False),
    ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, k(), False),  # empty set
    ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, k("a", "b"), True),
    ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, k("a", "c"), False),
    ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, MISSING, True),
    ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, k(), True),
    ({"ForAnyValue:StringNotEquals": {"k": "a"}}, k("a", "b"), True),
    ({"ForAnyValue:StringNotEquals": {"k": "a"}}, k("a"), False),
    ({"ForAnyValue:StringNotEquals": {"k": "a"}}, MISSING, False),
    ({"ForAllValues:StringNotEquals": {"k": "a"}}, k("b", "c"), True),
    ({"ForAllValues:StringNotEquals": {"k": "a"}}, k("a", "b"), False),
    ({"ForAllValues:StringNotEquals": {"k": "a"}}, MISSING, True),
    ({"ForAllValues:StringLike": {"k": "team-*"}}, k("team-a", "team-b"), True),
    ({"ForAllValues:StringLike": {"k": "team-*"}}, k("team-a", "ops"), False),
    ({"ForAnyValue:NumericLessThan": {"k": "10"}}, k("50", "5"), True),
    ({"ForAllValues:NumericLessThan": {"k": "10"}}, k("50", "5"), False),
    ({"ForAnyValue:IpAddress": {"k": "10.0.0.0/8"}}, k("8.8.8.8", "10.0.0.1"), True),
    # without a qualifier a multi-valued key matches when any value does ...
    ({"StringEquals": {"k": "a"}}, k("x", "a"), True),
    # ... and a negated operator is the negation of that
    ({"StringNotEquals": {"k": "a"}}, k("x", "a"), False),
    ({"StringNotEquals": {"k": "a"}}, k("x", "y"), True),
]

IF_EXISTS = [
    ({"StringEqualsIfExists": {"k": "a"}}, MISSING, True),
    ({"StringEqualsIfExists": {"k": "a"}}, k("a"), True),
    ({"StringEqualsIfExists": {"k": "a"}}, k("b"), False),
    ({"StringNotEqualsIfExists": {"k": "a"}}, MISSING, True),
    ({"StringNotEqualsIfExists": {"k": "a"}}, k("a"), False),
    ({"StringLikeIfExists": {"k": "a*"}}, k("b"), False),
    ({"NumericLessThanIfExists": {"k": "10"}}, MISSING, True),
    ({"NumericLessThanIfExists": {"k": "10"}}, k("11"), False),
    ({"DateLessThanIfExists": {"acs:CurrentTime": "2020-01-01T00:00:00Z"}}, MISSING, True),
    ({"BoolIfExists": {"acs:SecureTransport": "true"}}, MISSING, True),
    ({"BoolIfExists": {"acs:SecureTransport": "true"}}, {"acs:SecureTransport": ("false",)}, False),
    ({"IpAddressIfExists": {"acs:SourceIp": "10.0.0.0/8"}}, MISSING, True),
    ({"IpAddressIfExists": {"acs:SourceIp": "10.0.0.0/8"}}, {"acs:SourceIp": ("8.8.8.8",)}, False),
    (
        {"NotIpAddressIfExists": {"acs:SourceIp": "10.0.0.0/8"}},
        {"acs:SourceIp": ("10.0.0.1",)},
        False,
    ),
    ({"ForAnyValue:StringEqualsIfExists": {"k": "a"}}, MISSING, True),
    ({"ForAnyValue:StringEqualsIfExists": {"k": "a"}}, k("b"), False),
    ({"ForAllValues:StringEqualsIfExists": {"k": "a"}}, MISSING, True),
]

NULL = [
    ({"Null": {"k": "true"}}, MISSING, True),  # "true": the key is absent
    ({"Null": {"k": "true"}}, k("v"), False),
    ({"Null": {"k": "true"}}, k(), True),  # an empty value set counts as absent
    ({"Null": {"k": "false"}}, k("v"), True),
    ({"Null": {"k": "false"}}, MISSING, False),
    ({"Null": {"k": True}}, MISSING, True),
    ({"Null": {"k": ["true", "false"]}}, k("v"), True),  # values OR
]

BLOCKS = [
    # several keys under one operator: AND
    ({"StringEquals": {"a:x": "1", "a:y": "2"}}, {"a:x": ("1",), "a:y": ("2",)}, True),
    ({"StringEquals": {"a:x": "1", "a:y": "2"}}, {"a:x": ("1",), "a:y": ("3",)}, False),
    ({"StringEquals": {"a:x": "1", "a:y": "2"}}, {"a:x": ("1",)}, False),
    # several operators: AND
    (
        {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}, "Bool": {"acs:SecureTransport": "true"}},
        {"acs:SourceIp": ("10.0.0.1",), "acs:SecureTransport": ("true",)},
        True,
    ),
    (
        {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}, "Bool": {"acs:SecureTransport": "true"}},
        {"acs:SourceIp": ("10.0.0.1",), "acs:SecureTransport": ("false",)},
        False,
    ),
    # condition keys are matched case-insensitively, values are not
    ({"StringEquals": {"ACS:SourceVpc": "vpc-1"}}, {"acs:sourcevpc": ("vpc-1",)}, True),
    ({"StringEquals": {"acs:sourcevpc": "vpc-1"}}, {"ACS:SOURCEVPC": ("vpc-1",)}, True),
    ({"StringEquals": {"acs:SourceVpc": "vpc-1"}}, {"acs:SourceVpc": ("VPC-1",)}, False),
    ({}, MISSING, True),
]


@pytest.mark.parametrize(("block", "context", "expected"), STRING)
def test_string_operators(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


@pytest.mark.parametrize(("block", "context", "expected"), NUMERIC)
def test_numeric_operators(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


@pytest.mark.parametrize(("block", "context", "expected"), DATE)
def test_date_operators(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


@pytest.mark.parametrize(("block", "context", "expected"), BOOL)
def test_bool_operator(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


@pytest.mark.parametrize(("block", "context", "expected"), IP)
def test_ip_operators(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


@pytest.mark.parametrize(("block", "context", "expected"), QUALIFIED)
def test_set_qualifiers(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


@pytest.mark.parametrize(("block", "context", "expected"), IF_EXISTS)
def test_if_exists(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


@pytest.mark.parametrize(("block", "context", "expected"), NULL)
def test_null(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


@pytest.mark.parametrize(("block", "context", "expected"), BLOCKS)
def test_block_semantics(block: dict[str, Any], context: Ctx, expected: bool) -> None:
    assert holds(block, context) is expected


def test_operator_table_lists_the_documented_operators() -> None:
    documented = {
        *(f"String{s}" for s in ("Equals", "NotEquals", "EqualsIgnoreCase", "NotEqualsIgnoreCase")),
        "StringLike",
        "StringNotLike",
        *(
            f"{family}{s}"
            for family in ("Numeric", "Date")
            for s in (
                "Equals",
                "NotEquals",
                "LessThan",
                "LessThanEquals",
                "GreaterThan",
                "GreaterThanEquals",
            )
        ),
        "Bool",
        "IpAddress",
        "NotIpAddress",
        "Null",
    }
    assert set(OPERATORS) == documented


STRICT_ERRORS = [
    ({"StringEqualz": {"k": "v"}}, 'Condition: unknown condition operator "StringEqualz"'),
    ({"stringequals": {"k": "v"}}, 'Condition: unknown condition operator "stringequals"'),
    (
        {"ForSomeValues:StringEquals": {"k": "v"}},
        'Condition: unknown condition operator "ForSomeValues:StringEquals"',
    ),
    ({"NullIfExists": {"k": "true"}}, 'Condition: unknown condition operator "NullIfExists"'),
    (
        {"ForAnyValue:Null": {"k": "true"}},
        'Condition: unknown condition operator "ForAnyValue:Null"',
    ),
    ({"IfExists": {"k": "v"}}, 'Condition: unknown condition operator "IfExists"'),
    ({"StringEquals": "k"}, "Condition.StringEquals: must be an object of condition keys"),
    ({"StringEquals": {"k": []}}, 'Condition.StringEquals["k"]: must hold at least one value'),
    (
        {"StringEquals": {"k": [None]}},
        'Condition.StringEquals["k"][0]: must be a string, number or boolean',
    ),
    (
        {"StringEquals": {"k": {"a": 1}}},
        'Condition.StringEquals["k"]: must be a string, number or boolean',
    ),
    ({"StringEquals": {"": "v"}}, 'Condition.StringEquals[""]: a condition key must not be empty'),
    ({"NumericLessThan": {"k": "ten"}}, 'Condition.NumericLessThan["k"]: "ten" is not a number'),
    (
        {"NumericLessThan": {"k": ["1", "NaN"]}},
        'Condition.NumericLessThan["k"][1]: "NaN" is not a number',
    ),
    ({"NumericEquals": {"k": "1_000"}}, 'Condition.NumericEquals["k"]: "1_000" is not a number'),
    (
        {"DateLessThan": {"acs:CurrentTime": "tomorrow"}},
        'Condition.DateLessThan["acs:CurrentTime"]: '
        '"tomorrow" is not an ISO-8601 date or epoch seconds',
    ),
    (
        {"Bool": {"acs:MFAPresent": "yes"}},
        'Condition.Bool["acs:MFAPresent"]: "yes" is not "true" or "false"',
    ),
    (
        {"Bool": {"acs:MFAPresent": "HTTPS"}},
        'Condition.Bool["acs:MFAPresent"]: "HTTPS" is not "true" or "false"',
    ),
    (
        {"IpAddress": {"acs:SourceIp": ["10.0.0.300"]}},
        'Condition.IpAddress["acs:SourceIp"][0]: "10.0.0.300" is not an IP address or CIDR',
    ),
    (
        {"NotIpAddress": {"acs:SourceIp": "10.0.0.0/33"}},
        'Condition.NotIpAddress["acs:SourceIp"]: "10.0.0.0/33" is not an IP address or CIDR',
    ),
    ({"Null": {"k": "maybe"}}, 'Condition.Null["k"]: "maybe" is not "true" or "false"'),
]


@pytest.mark.parametrize(("block", "detail"), STRICT_ERRORS)
def test_strict_errors_name_their_place(block: dict[str, Any], detail: str) -> None:
    with pytest.raises(MalformedPolicy) as raised:
        compile_conditions(block, "Condition", strict=True, fallback=False)
    assert raised.value.detail == detail


def test_a_condition_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(MalformedPolicy) as raised:
        compile_conditions("x", "Condition", strict=True, fallback=False)
    assert raised.value.detail == "Condition: must be an object of condition operators"


@pytest.mark.parametrize("fallback", [True, False])
@pytest.mark.parametrize(
    "block",
    [
        {"StringEqualz": {"k": "v"}},
        {"IpAddress": {"acs:SourceIp": "10.0.0.300"}},
        {"StringEquals": {"k": [None]}},
        {"NumericLessThan": {"k": "ten"}},
    ],
)
def test_lenient_mode_replaces_broken_entries_with_the_fallback(
    block: dict[str, Any], fallback: bool
) -> None:
    assert holds(block, k("v"), strict=False, fallback=fallback) is fallback


def test_lenient_mode_reads_operator_names_case_insensitively() -> None:
    assert holds({"stringequals": {"k": "v"}}, k("v"), strict=False) is True
    assert holds({"forallvalues:stringequalsifexists": {"k": "v"}}, k("w"), strict=False) is False
    assert holds({"NULL": {"k": "true"}}, MISSING, strict=False) is True


def test_lenient_fallback_only_replaces_the_broken_operator() -> None:
    block = {"StringEquals": {"k": "v"}, "Bogus": {"k": "v"}}
    assert holds(block, k("w"), strict=False, fallback=True) is False
