"""Action names: ``service:Name``, wildcards, case-insensitive matching (spec sts-ram.md 4.2)."""

from __future__ import annotations

import pytest

from tessera.policy.actions import compile_actions, is_action_pattern, normalize_action


def matches(patterns: list[str], action: str, *, negate: bool = False) -> bool:
    return compile_actions(patterns, negate=negate)(normalize_action(action))


@pytest.mark.parametrize(
    ("patterns", "action", "expected"),
    [
        (["oss:GetObject"], "oss:GetObject", True),
        (["oss:GetObject"], "oss:getobject", True),  # "generally case-insensitive"
        (["OSS:GETOBJECT"], "oss:GetObject", True),
        (["oss:GetObject"], "oss:GetObjectAcl", False),
        (["oss:Get*"], "oss:GetBucketInfo", True),
        (["oss:Get*"], "oss:PutObject", False),
        (["oss:get*"], "OSS:GetObject", True),
        (["oss:*"], "oss:DeleteObject", True),
        (["oss:*"], "ram:CreateUser", False),
        (["*"], "sts:AssumeRole", True),
        (["oss:?etObject"], "oss:GetObject", True),
        (["oss:?etObject"], "oss:SetObject", True),
        (["oss:?etObject"], "oss:GGetObject", False),
        (["*:List*"], "ram:ListUsers", True),
        (["oss:GetObject", "oss:PutObject"], "oss:PutObject", True),
        (["oss:GetObject", "oss:PutObject"], "oss:DeleteObject", False),
        (["sts:AssumeRole"], "sts:AssumeRoleWithSAML", False),
    ],
)
def test_action_matching(patterns: list[str], action: str, expected: bool) -> None:
    assert matches(patterns, action) is expected


@pytest.mark.parametrize(
    ("patterns", "action", "expected"),
    [
        (["oss:*"], "oss:GetObject", False),
        (["oss:*"], "ram:CreateUser", True),
        (["ram:Delete*", "ram:Detach*"], "ram:DetachPolicyFromUser", False),
        (["ram:Delete*", "ram:Detach*"], "RAM:createuser", True),
    ],
)
def test_not_action(patterns: list[str], action: str, expected: bool) -> None:
    assert matches(patterns, action, negate=True) is expected


@pytest.mark.parametrize(
    ("pattern", "valid"),
    [
        ("*", True),
        ("oss:GetObject", True),
        ("oss:*", True),
        ("oss:Get*", True),
        ("ecs:Describe?nstances", True),
        ("*:List*", True),
        ("log:PostLogStoreLogs", True),
        ("cms:QueryMetric.Data", True),
        ("oss", False),
        ("oss:", False),
        (":GetObject", False),
        ("oss: GetObject", False),
        ("oss:Get Object", False),
        ("oss:GetObject:x", False),
        ("", False),
    ],
)
def test_action_pattern_grammar(pattern: str, valid: bool) -> None:
    assert is_action_pattern(pattern) is valid
