"""ACS resource names and patterns (spec sts-ram.md 3.8, 4.2, 4.7)."""

from __future__ import annotations

import pytest

from tessera.policy.resources import (
    compile_resources,
    is_resource_pattern,
    normalize_arn,
    resource_name,
)


def matches(patterns: list[str], name: str, *, negate: bool = False) -> bool:
    return compile_resources(patterns, negate=negate)(resource_name(name))


ACCT = "1234567890123456"


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        (["*"], "acs:oss:*:1:b/k", True),
        (["*"], "not-even-an-arn", True),
        (
            ["acs:oss:*:*:sample-bucket/2015/01/01/*.jpg"],
            f"acs:oss:*:{ACCT}:sample-bucket/2015/01/01/a.jpg",
            True,
        ),
        (
            ["acs:oss:*:*:sample-bucket/2015/01/01/*.jpg"],
            f"acs:oss:*:{ACCT}:sample-bucket/2015/01/01/a.png",
            False,
        ),
        (
            ["acs:oss:*:*:sample-bucket/2015/01/01/*.jpg"],
            f"acs:oss:*:{ACCT}:other/2015/01/01/a.jpg",
            False,
        ),
        # object keys are case-sensitive
        (["acs:oss:*:*:bucket/Photos/*"], "acs:oss:*:1:bucket/photos/a", False),
        (["acs:oss:*:*:bucket/Photos/*"], "acs:oss:*:1:bucket/Photos/a", True),
        # a bucket ARN is not an object ARN and vice versa
        (["acs:oss:*:*:bucket"], "acs:oss:*:1:bucket", True),
        (["acs:oss:*:*:bucket"], "acs:oss:*:1:bucket/key", False),
        (["acs:oss:*:*:bucket/*"], "acs:oss:*:1:bucket", False),
        (["acs:oss:*:*:bucket", "acs:oss:*:*:bucket/*"], "acs:oss:*:1:bucket", True),
        (["acs:oss:*:*:bucket", "acs:oss:*:*:bucket/*"], "acs:oss:*:1:bucket/k", True),
        # account and region segments
        ([f"acs:oss:*:{ACCT}:bucket/*"], f"acs:oss:*:{ACCT}:bucket/k", True),
        ([f"acs:oss:*:{ACCT}:bucket/*"], "acs:oss:*:9999999999999999:bucket/k", False),
        (["acs:ecs:cn-hangzhou:*:instance/*"], "acs:ecs:cn-hangzhou:1:instance/i-1", True),
        (["acs:ecs:cn-hangzhou:*:instance/*"], "acs:ecs:cn-beijing:1:instance/i-1", False),
        (["acs:ecs:cn-*:*:instance/*"], "acs:ecs:cn-beijing:1:instance/i-1", True),
        # '*' in region/account stays inside its segment; object keys may hold ':'
        ([f"acs:oss:*:{ACCT}:b/*"], f"acs:oss:*:9999:b/:{ACCT}:b/x", False),
        (["acs:oss:*:*:b/*"], "acs:oss:*:1:b/a:b:c", True),
        # '*' for region matches an empty region (RAM ARNs have none)
        (["acs:ram:*:1:user/*"], "acs:ram::1:user/alice", True),
        # service is literal
        (["acs:oss:*:*:*"], "acs:ram:*:1:user/alice", False),
        (["acs:*:*:*:*"], "acs:ram:*:1:user/alice", True),
        (["acs:oss:*:*:b/?.txt"], "acs:oss:*:1:b/a.txt", True),
        (["acs:oss:*:*:b/?.txt"], "acs:oss:*:1:b/ab.txt", False),
    ],
)
def test_resource_matching(patterns: list[str], name: str, expected: bool) -> None:
    assert matches(patterns, name) is expected


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        # spec sts-ram.md 3.4: role names in ARNs compare case-insensitively
        (
            [f"acs:ram:*:{ACCT}:role/AliyunFCDefaultRole"],
            f"acs:ram:*:{ACCT}:role/aliyunfcdefaultrole",
            True,
        ),
        ([f"acs:ram:*:{ACCT}:role/app-*"], f"acs:ram:*:{ACCT}:role/APP-Reader", True),
        # ...but user names and everything else do not
        ([f"acs:ram:*:{ACCT}:user/Alice"], f"acs:ram:*:{ACCT}:user/alice", False),
    ],
)
def test_role_names_are_case_insensitive(patterns: list[str], name: str, expected: bool) -> None:
    assert matches(patterns, name) is expected


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        (["acs:oss:*:*:secret/*"], "acs:oss:*:1:secret/k", False),
        (["acs:oss:*:*:secret/*"], "acs:oss:*:1:public/k", True),
        (["*"], "acs:oss:*:1:public/k", False),
    ],
)
def test_not_resource(patterns: list[str], name: str, expected: bool) -> None:
    assert matches(patterns, name, negate=True) is expected


def test_non_acs_patterns_match_the_whole_string() -> None:
    assert matches(["foo*"], "foobar") is True
    assert matches(["foo*"], "acs:oss:*:1:foo") is False


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("acs:ram::1:role/MyRole", "acs:ram::1:role/myrole"),
        ("acs:ram::1:assumed-role/MyRole/Session-A", "acs:ram::1:assumed-role/myrole/Session-A"),
        ("acs:ram::1:role/MyRole/Session-A", "acs:ram::1:role/myrole/Session-A"),
        ("acs:ram::1:user/Alice", "acs:ram::1:user/Alice"),
        ("acs:oss:*:1:role/Bucket", "acs:oss:*:1:role/Bucket"),
    ],
)
def test_normalize_arn(name: str, expected: str) -> None:
    assert normalize_arn(name) == expected


@pytest.mark.parametrize(
    ("pattern", "valid"),
    [
        ("*", True),
        ("acs:oss:*:*:*", True),
        ("acs:oss:*:1234567890123456:bucket/key", True),
        ("acs:ram::1234567890123456:root", True),
        ("acs:ram:*:1234567890123456:role/app-*", True),
        ("acs:oss:*:*:bucket/a:b", True),
        ("acs:oss:*:*", False),
        ("acs:oss:*:*:", False),
        ("arn:aws:s3:::bucket", False),
        ("bucket/key", False),
        ("acs::*:*:x", False),
        ("", False),
    ],
)
def test_resource_pattern_grammar(pattern: str, valid: bool) -> None:
    assert is_resource_pattern(pattern) is valid


def test_an_empty_region_matches_any_region_as_in_a_copied_role_arn() -> None:
    # RAM docs write both acs:ram::<acct>:role/x (the RoleArn form) and acs:ram:*:<acct>:role/x
    matches = compile_resources(["acs:ram::1234567890123456:role/oss-objectmanager"])
    assert matches(resource_name("acs:ram:*:1234567890123456:role/oss-objectmanager"))
    assert matches(resource_name("acs:ram::1234567890123456:role/OSS-ObjectManager"))
    assert not matches(resource_name("acs:ram:*:6543210987654321:role/oss-objectmanager"))
