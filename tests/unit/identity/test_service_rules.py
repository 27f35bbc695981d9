"""Parameter constraints of spec §3 (lengths, character sets, formats, ranges), as a table.

Each row names the RAM parameter, the value, and the sub-code the spec gives
(``InvalidParameter.<Param>.<Reason>``); values at the boundary must pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tessera.errors import InvalidArgument, MissingArgument
from tessera.identity.service import RamService
from tessera.store import PrincipalKind, Tag

from .support import ACCOUNT, DOC, TRUST

Call = Callable[[RamService, str], object]


def _seed(ram: RamService) -> None:
    ram.create_user(ACCOUNT, "alice")
    ram.create_group(ACCOUNT, "devs")
    ram.create_role(ACCOUNT, "Writer", TRUST)
    ram.create_policy(ACCOUNT, "p1", DOC)


@dataclass(frozen=True)
class Rule:
    param: str
    call: Call
    good: tuple[str, ...]
    bad: tuple[tuple[str, str], ...]  # (value, reason)


NAME_64 = ("a", "A-z_0.9", "x" * 64)
RULES = (
    Rule(
        "UserName",
        lambda r, v: r.create_user(ACCOUNT, v),
        NAME_64,
        (("x" * 65, "Length"), ("bad name", "InvalidChars"), ("a@b", "InvalidChars")),
    ),
    Rule(
        "NewUserName",
        lambda r, v: r.update_user(ACCOUNT, "alice", new_user_name=v),
        ("alice-2",),
        (("x" * 65, "Length"), ("a/b", "InvalidChars")),
    ),
    Rule(
        "DisplayName",
        lambda r, v: r.create_user(ACCOUNT, "u1", display_name=v),
        ("Alice Ö", "x" * 128),
        (("x" * 129, "Length"),),
    ),
    Rule(
        "Comments",
        lambda r, v: r.create_user(ACCOUNT, "u2", comments=v),
        ("x" * 128,),
        (("x" * 129, "Length"),),
    ),
    Rule(
        "Email",
        lambda r, v: r.create_user(ACCOUNT, "u3", email=v),
        ("alice@example.com",),
        (("alice", "Format"), ("a@b", "Format"), ("a b@c.d", "Format")),
    ),
    Rule(
        "MobilePhone",
        lambda r, v: r.create_user(ACCOUNT, "u4", mobile_phone=v),
        ("86-18600008888",),
        (("18600008888", "Format"), ("86-186x", "Format")),
    ),
    Rule(
        "NewEmail",
        lambda r, v: r.update_user(ACCOUNT, "alice", new_email=v),
        ("a@example.org",),
        (("nope", "Format"),),
    ),
    Rule(
        "NewMobilePhone",
        lambda r, v: r.update_user(ACCOUNT, "alice", new_mobile_phone=v),
        ("1-5550100",),
        (("+1 555", "Format"),),
    ),
    Rule(
        "GroupName",
        lambda r, v: r.create_group(ACCOUNT, v),
        NAME_64,
        (("x" * 65, "Length"), ("dev ops", "InvalidChars")),
    ),
    Rule(
        "NewGroupName",
        lambda r, v: r.update_group(ACCOUNT, "devs", new_group_name=v),
        ("ops",),
        (("x" * 65, "Length"),),
    ),
    Rule(
        "Comments",
        lambda r, v: r.create_group(ACCOUNT, "g2", comments=v),
        ("x" * 128,),
        (("x" * 129, "Length"),),
    ),
    Rule(
        "RoleName",
        lambda r, v: r.create_role(ACCOUNT, v, TRUST),
        ("r", "Oss-Writer.1", "x" * 64),
        (("x" * 65, "Length"), ("under_score", "InvalidChars"), ("a b", "InvalidChars")),
    ),
    Rule(
        "Description",
        lambda r, v: r.create_role(ACCOUNT, "r2", TRUST, description=v),
        ("x" * 1024,),
        (("x" * 1025, "Length"),),
    ),
    Rule(
        "NewDescription",
        lambda r, v: r.update_role(ACCOUNT, "Writer", new_description=v),
        ("x" * 1024,),
        (("x" * 1025, "Length"),),
    ),
    Rule(
        "PolicyName",
        lambda r, v: r.create_policy(ACCOUNT, v, DOC),
        ("p", "Oss-Admin-2", "x" * 128),
        (("x" * 129, "Length"), ("p.1", "InvalidChars"), ("p_1", "InvalidChars")),
    ),
    Rule(
        "Description",
        lambda r, v: r.create_policy(ACCOUNT, "p2", DOC, description=v),
        ("x" * 1024,),
        (("x" * 1025, "Length"),),
    ),
    Rule(
        "NewDescription",
        lambda r, v: r.update_policy_description(ACCOUNT, "p1", v),
        ("x" * 1024,),
        (("x" * 1025, "Length"),),
    ),
    Rule(
        "VersionId",
        lambda r, v: r.get_policy_version(ACCOUNT, "p1", "Custom", v),
        ("v1",),
        (("1", "Format"), ("v", "Format"), ("v0", "Format"), ("V1", "Format")),
    ),
)
CASES = [
    pytest.param(rule, value, reason, id=f"{rule.param}-{reason}-{len(value)}")
    for rule in RULES
    for value, reason in rule.bad
]
GOOD = [
    pytest.param(rule, value, id=f"{rule.param}-ok-{len(value)}")
    for rule in RULES
    for value in rule.good
]


@pytest.mark.parametrize(("rule", "value", "reason"), CASES)
def test_bad_values_are_rejected(ram: RamService, rule: Rule, value: str, reason: str) -> None:
    _seed(ram)
    with pytest.raises(InvalidArgument) as caught:
        rule.call(ram, value)
    assert (caught.value.param, caught.value.reason) == (rule.param, reason)


@pytest.mark.parametrize(("rule", "value"), GOOD)
def test_boundary_values_pass(ram: RamService, rule: Rule, value: str) -> None:
    _seed(ram)
    rule.call(ram, value)


REQUIRED: tuple[tuple[str, Call], ...] = (
    ("UserName", lambda r, v: r.create_user(ACCOUNT, v)),
    ("GroupName", lambda r, v: r.create_group(ACCOUNT, v)),
    ("RoleName", lambda r, v: r.create_role(ACCOUNT, v, TRUST)),
    ("AssumeRolePolicyDocument", lambda r, v: r.create_role(ACCOUNT, "r", v)),
    ("PolicyName", lambda r, v: r.create_policy(ACCOUNT, v, DOC)),
    ("PolicyDocument", lambda r, v: r.create_policy(ACCOUNT, "p", v)),
    ("PolicyType", lambda r, v: r.get_policy(ACCOUNT, "p1", v)),
    ("UserAccessKeyId", lambda r, v: r.delete_access_key(ACCOUNT, v, "alice")),
)


@pytest.mark.parametrize(("param", "call"), REQUIRED, ids=[p for p, _ in REQUIRED])
def test_required_parameters(ram: RamService, param: str, call: Call) -> None:
    _seed(ram)
    with pytest.raises(MissingArgument) as caught:
        call(ram, "")
    assert caught.value.param == param


@pytest.mark.parametrize("size", [6145, 10_000])
def test_policy_documents_are_at_most_6144_chars(ram: RamService, size: int) -> None:
    _seed(ram)
    oversized = DOC[:-1] + " " * (size - len(DOC)) + "}"
    for call in (
        lambda: ram.create_policy(ACCOUNT, "big", oversized),
        lambda: ram.create_policy_version(ACCOUNT, "p1", oversized),
    ):
        with pytest.raises(InvalidArgument) as caught:
            call()
        assert (caught.value.param, caught.value.reason) == ("PolicyDocument", "Length")
    exact = DOC[:-1] + " " * (6144 - len(DOC)) + "}"
    assert ram.create_policy(ACCOUNT, "exact", exact).name == "exact"


@pytest.mark.parametrize(
    ("value", "ok"), [(3599, False), (3600, True), (43200, True), (43201, False), (0, False)]
)
def test_max_session_duration_range(ram: RamService, value: int, ok: bool) -> None:
    _seed(ram)
    if ok:
        assert (
            ram.create_role(ACCOUNT, "r", TRUST, max_session_duration=value).max_session_duration
            == value
        )
        assert (
            ram.update_role(ACCOUNT, "r", new_max_session_duration=value).max_session_duration
            == value
        )
        return
    calls: tuple[Callable[[], object], ...] = (
        lambda: ram.create_role(ACCOUNT, "r", TRUST, max_session_duration=value),
        lambda: ram.update_role(ACCOUNT, "Writer", new_max_session_duration=value),
    )
    for call in calls:
        with pytest.raises(InvalidArgument) as caught:
            call()
        assert caught.value.param == "MaxSessionDuration"


def test_max_session_duration_defaults_to_3600(ram: RamService) -> None:
    assert ram.create_role(ACCOUNT, "r", TRUST).max_session_duration == 3600


@pytest.mark.parametrize(
    ("lister", "maximum"),
    [
        (lambda r, n: r.list_users(ACCOUNT, max_items=n), 1000),
        (lambda r, n: r.list_roles(ACCOUNT, max_items=n), 1000),
        (lambda r, n: r.list_policies(ACCOUNT, max_items=n), 1000),
        (lambda r, n: r.list_users_for_group(ACCOUNT, "devs", max_items=n), 1000),
        (lambda r, n: r.list_groups(ACCOUNT, max_items=n), 100),
    ],
    ids=["ListUsers", "ListRoles", "ListPolicies", "ListUsersForGroup", "ListGroups"],
)
def test_max_items_bounds(
    ram: RamService, lister: Callable[[RamService, int], object], maximum: int
) -> None:
    _seed(ram)
    for good in (1, maximum):
        lister(ram, good)
    for bad in (0, maximum + 1):
        with pytest.raises(InvalidArgument) as caught:
            lister(ram, bad)
        assert caught.value.param == "MaxItems"


@pytest.mark.parametrize("spelling", ["System", "system", "SYSTEM"])
def test_policy_type_is_case_insensitive(ram: RamService, spelling: str) -> None:
    policy, version = ram.get_policy(ACCOUNT, "AdministratorAccess", spelling)
    assert (str(policy.policy_type), version.version_id) == ("System", "v1")


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.get_policy(ACCOUNT, "p1", "Managed"),
        lambda r: r.list_policies(ACCOUNT, policy_type="All"),
        lambda r: r.attach_policy(
            ACCOUNT, PrincipalKind.USER, "alice", policy_name="p1", policy_type="custom-ish"
        ),
    ],
)
def test_bad_policy_type(ram: RamService, call: Callable[[RamService], object]) -> None:
    _seed(ram)
    with pytest.raises(InvalidArgument) as caught:
        call(ram)
    assert caught.value.param == "PolicyType"


def test_rotate_strategy_values(ram: RamService) -> None:
    _seed(ram)
    ram.create_policy_version(ACCOUNT, "p1", DOC, rotate_strategy="None")
    ram.create_policy_version(
        ACCOUNT, "p1", DOC, rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded"
    )
    with pytest.raises(InvalidArgument) as caught:
        ram.create_policy_version(ACCOUNT, "p1", DOC, rotate_strategy="DeleteEverything")
    assert caught.value.param == "RotateStrategy"


def test_access_key_status_values(ram: RamService) -> None:
    _seed(ram)
    key = ram.create_access_key(ACCOUNT, "alice").key
    ram.update_access_key(ACCOUNT, key.access_key_id, "inactive", "alice")
    with pytest.raises(InvalidArgument) as caught:
        ram.update_access_key(ACCOUNT, key.access_key_id, "Disabled", "alice")
    assert caught.value.param == "Status"


@pytest.mark.parametrize(
    "tags",
    [
        [Tag(f"k{i}", "v") for i in range(21)],
        [Tag("k", "1"), Tag("k", "2")],
        [Tag("", "v")],
        [Tag("k" * 129, "v")],
        [Tag("k", "v" * 129)],
        [Tag("aliyun:reserved", "v")],
        [Tag("acs:reserved", "v")],
    ],
    ids=["too-many", "duplicate-key", "empty-key", "long-key", "long-value", "aliyun", "acs"],
)
def test_bad_tags(ram: RamService, tags: list[Tag]) -> None:
    with pytest.raises(InvalidArgument):
        ram.create_role(ACCOUNT, "r", TRUST, tags=tags)
    with pytest.raises(InvalidArgument):
        ram.create_policy(ACCOUNT, "p", DOC, tags=tags)


def test_twenty_tags_with_empty_values_are_fine(ram: RamService) -> None:
    tags = [Tag(f"k{i}", "") for i in range(20)]
    assert ram.create_role(ACCOUNT, "r", TRUST, tags=tags).tags == tuple(tags)
