"""The errors of spec §3.9 and the quotas of §3.10, one row each.

The expected ``kind`` is the wire sub-code after the class prefix: ``NotFound("User.AccessKey")``
is rendered as ``EntityNotExist.User.AccessKey``, ``DeleteConflict("Policy.Version")`` as
``DeleteConflict.Policy.Version`` and so on.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tessera.errors import AlreadyExists, DeleteConflict, LimitExceeded, NotFound, TesseraError
from tessera.identity.service import RamLimits, RamService
from tessera.store import PrincipalKind

from .support import ACCOUNT, DOC, TRUST, make_world

USER, GROUP, ROLE = PrincipalKind.USER, PrincipalKind.GROUP, PrincipalKind.ROLE
Scenario = Callable[[RamService], object]


def _seed(ram: RamService) -> None:
    """alice (with a key) in devs; Writer role; custom policy p1 attached to nobody."""
    ram.create_user(ACCOUNT, "alice")
    ram.create_user(ACCOUNT, "bob")
    ram.create_group(ACCOUNT, "devs")
    ram.create_role(ACCOUNT, "Writer", TRUST)
    ram.create_policy(ACCOUNT, "p1", DOC)


def _attach(
    ram: RamService, kind: PrincipalKind, name: str, policy: str = "p1", policy_type: str = "Custom"
) -> None:
    ram.attach_policy(ACCOUNT, kind, name, policy_name=policy, policy_type=policy_type)


def _then(*steps: Scenario) -> Scenario:
    def run(ram: RamService) -> None:
        for step in steps:
            step(ram)

    return run


ERRORS: list[tuple[str, type[TesseraError], str, Scenario]] = [
    # EntityNotExist.*
    ("GetUser", NotFound, "User", lambda r: r.get_user(ACCOUNT, "ghost")),
    ("DeleteUser", NotFound, "User", lambda r: r.delete_user(ACCOUNT, "ghost")),
    ("UpdateUser", NotFound, "User", lambda r: r.update_user(ACCOUNT, "ghost", new_comments="x")),
    ("CreateAccessKey", NotFound, "User", lambda r: r.create_access_key(ACCOUNT, "ghost")),
    (
        "DeleteAccessKey",
        NotFound,
        "User.AccessKey",
        lambda r: r.delete_access_key(ACCOUNT, "LTAInothing", "alice"),
    ),
    (
        "UpdateAccessKey",
        NotFound,
        "User.AccessKey",
        lambda r: r.update_access_key(ACCOUNT, "LTAInothing", "Inactive", "alice"),
    ),
    (
        "GetAccessKeyLastUsed",
        NotFound,
        "User.AccessKey",
        lambda r: r.get_access_key_last_used(ACCOUNT, "LTAInothing", "alice"),
    ),
    (
        "DeleteAccessKey of another user",
        NotFound,
        "User.AccessKey",
        lambda r: r.delete_access_key(
            ACCOUNT, r.create_access_key(ACCOUNT, "bob").key.access_key_id, "alice"
        ),
    ),
    (
        "DetachPolicyFromUser",
        NotFound,
        "User.Policy",
        lambda r: r.detach_policy(ACCOUNT, USER, "alice", policy_name="p1", policy_type="Custom"),
    ),
    (
        "RemoveUserFromGroup",
        NotFound,
        "User.Group",
        lambda r: r.remove_user_from_group(ACCOUNT, "devs", "bob"),
    ),
    ("GetGroup", NotFound, "Group", lambda r: r.get_group(ACCOUNT, "ghosts")),
    ("AddUserToGroup", NotFound, "Group", lambda r: r.add_user_to_group(ACCOUNT, "x", "alice")),
    (
        "DetachPolicyFromGroup",
        NotFound,
        "Group.Policy",
        lambda r: r.detach_policy(ACCOUNT, GROUP, "devs", policy_name="p1", policy_type="Custom"),
    ),
    ("GetRole", NotFound, "Role", lambda r: r.get_role(ACCOUNT, "ghost")),
    ("DeleteRole", NotFound, "Role", lambda r: r.delete_role(ACCOUNT, "ghost")),
    (
        "DetachPolicyFromRole",
        NotFound,
        "Role.Policy",
        lambda r: r.detach_policy(ACCOUNT, ROLE, "Writer", policy_name="p1", policy_type="Custom"),
    ),
    ("GetPolicy", NotFound, "Policy", lambda r: r.get_policy(ACCOUNT, "nope", "Custom")),
    ("GetPolicy wrong type", NotFound, "Policy", lambda r: r.get_policy(ACCOUNT, "p1", "System")),
    ("AttachPolicyToUser", NotFound, "Policy", lambda r: _attach(r, USER, "alice", "nope")),
    (
        "DeletePolicy system",
        NotFound,
        "Policy",
        lambda r: r.delete_policy(ACCOUNT, "AdministratorAccess"),
    ),
    (
        "CreatePolicyVersion system",
        NotFound,
        "Policy",
        lambda r: r.create_policy_version(ACCOUNT, "AdministratorAccess", DOC),
    ),
    (
        "UpdatePolicyDescription system",
        NotFound,
        "Policy",
        lambda r: r.update_policy_description(ACCOUNT, "AliyunOSSFullAccess", "mine"),
    ),
    (
        "GetPolicyVersion",
        NotFound,
        "Policy.Version",
        lambda r: r.get_policy_version(ACCOUNT, "p1", "Custom", "v9"),
    ),
    (
        "SetDefaultPolicyVersion",
        NotFound,
        "Policy.Version",
        lambda r: r.set_default_policy_version(ACCOUNT, "p1", "v9"),
    ),
    (
        "DeletePolicyVersion",
        NotFound,
        "Policy.Version",
        lambda r: r.delete_policy_version(ACCOUNT, "p1", "v9"),
    ),
    # EntityAlreadyExists.*
    ("CreateUser", AlreadyExists, "User", lambda r: r.create_user(ACCOUNT, "alice")),
    (
        "UpdateUser rename",
        AlreadyExists,
        "User",
        lambda r: r.update_user(ACCOUNT, "alice", new_user_name="bob"),
    ),
    ("CreateGroup", AlreadyExists, "Group", lambda r: r.create_group(ACCOUNT, "devs")),
    ("CreateRole", AlreadyExists, "Role", lambda r: r.create_role(ACCOUNT, "WRITER", TRUST)),
    ("CreatePolicy", AlreadyExists, "Policy", lambda r: r.create_policy(ACCOUNT, "p1", DOC)),
    (
        "CreatePolicy system name",
        AlreadyExists,
        "Policy",
        lambda r: r.create_policy(ACCOUNT, "AdministratorAccess", DOC),
    ),
    (
        "AddUserToGroup twice",
        AlreadyExists,
        "User.Group",
        _then(
            lambda r: r.add_user_to_group(ACCOUNT, "devs", "alice"),
            lambda r: r.add_user_to_group(ACCOUNT, "devs", "alice"),
        ),
    ),
    (
        "AttachPolicyToUser twice",
        AlreadyExists,
        "User.Policy",
        _then(lambda r: _attach(r, USER, "alice"), lambda r: _attach(r, USER, "alice")),
    ),
    (
        "AttachPolicyToGroup twice",
        AlreadyExists,
        "Group.Policy",
        _then(lambda r: _attach(r, GROUP, "devs"), lambda r: _attach(r, GROUP, "devs")),
    ),
    (
        "AttachPolicyToRole twice",
        AlreadyExists,
        "Role.Policy",
        _then(
            lambda r: _attach(r, ROLE, "writer", "AdministratorAccess", "System"),
            lambda r: _attach(r, ROLE, "Writer", "AdministratorAccess", "system"),
        ),
    ),
    # DeleteConflict.*
    (
        "DeleteUser with key",
        DeleteConflict,
        "User.AccessKey",
        _then(
            lambda r: r.create_access_key(ACCOUNT, "alice"),
            lambda r: r.delete_user(ACCOUNT, "alice"),
        ),
    ),
    (
        "DeleteUser in group",
        DeleteConflict,
        "User.Group",
        _then(
            lambda r: r.add_user_to_group(ACCOUNT, "devs", "alice"),
            lambda r: r.delete_user(ACCOUNT, "alice"),
        ),
    ),
    (
        "DeleteUser with policy",
        DeleteConflict,
        "User.Policy",
        _then(lambda r: _attach(r, USER, "alice"), lambda r: r.delete_user(ACCOUNT, "alice")),
    ),
    (
        "DeleteGroup with user",
        DeleteConflict,
        "Group.User",
        _then(
            lambda r: r.add_user_to_group(ACCOUNT, "devs", "alice"),
            lambda r: r.delete_group(ACCOUNT, "devs"),
        ),
    ),
    (
        "DeleteGroup with policy",
        DeleteConflict,
        "Group.Policy",
        _then(lambda r: _attach(r, GROUP, "devs"), lambda r: r.delete_group(ACCOUNT, "devs")),
    ),
    (
        "DeleteRole with policy",
        DeleteConflict,
        "Role.Policy",
        _then(lambda r: _attach(r, ROLE, "Writer"), lambda r: r.delete_role(ACCOUNT, "Writer")),
    ),
    (
        "DeletePolicy attached to user",
        DeleteConflict,
        "Policy.User",
        _then(lambda r: _attach(r, USER, "alice"), lambda r: r.delete_policy(ACCOUNT, "p1")),
    ),
    (
        "DeletePolicy attached to group",
        DeleteConflict,
        "Policy.Group",
        _then(lambda r: _attach(r, GROUP, "devs"), lambda r: r.delete_policy(ACCOUNT, "p1")),
    ),
    (
        "DeletePolicy with versions",
        DeleteConflict,
        "Policy.Version",
        _then(
            lambda r: r.create_policy_version(ACCOUNT, "p1", DOC),
            lambda r: r.delete_policy(ACCOUNT, "p1"),
        ),
    ),
    (
        "DeletePolicyVersion default",
        DeleteConflict,
        "Policy.Version.Default",
        lambda r: r.delete_policy_version(ACCOUNT, "p1", "v1"),
    ),
]


@pytest.mark.parametrize(
    ("error", "kind", "scenario"),
    [pytest.param(e, k, s, id=label) for label, e, k, s in ERRORS],
)
def test_error(error: type[TesseraError], kind: str, scenario: Scenario) -> None:
    ram = make_world().ram
    _seed(ram)
    with pytest.raises(error) as caught:
        scenario(ram)
    assert caught.value.fields["kind"] == kind


def test_default_limits_are_those_of_the_spec() -> None:
    limits = RamLimits()
    assert (limits.users, limits.groups, limits.roles, limits.custom_policies) == (
        1000,
        50,
        1000,
        1500,
    )
    assert limits.access_keys_per_user == 2
    assert limits.groups_per_user == 5
    assert (
        limits.custom_policies_per_user,
        limits.custom_policies_per_group,
        limits.custom_policies_per_role,
    ) == (10, 5, 5)
    assert limits.system_policies_per_principal == 20
    assert limits.versions_per_policy == 5


def _fill(count: int, step: Callable[[RamService, int], object]) -> Scenario:
    def run(ram: RamService) -> None:
        for i in range(count):
            step(ram, i)

    return run


def _custom_attached(kind: PrincipalKind, name: str) -> Callable[[RamService, int], object]:
    def step(ram: RamService, i: int) -> None:
        ram.create_policy(ACCOUNT, f"c{i}", DOC)
        _attach(ram, kind, name, f"c{i}")

    return step


QUOTAS: list[tuple[str, int, str, Callable[[RamService, int], object]]] = [
    (
        "access keys per user",
        2,
        "User.AccessKey",
        lambda r, i: r.create_access_key(ACCOUNT, "alice"),
    ),
    (
        "groups per user",
        5,
        "User.Group",
        lambda r, i: (
            r.create_group(ACCOUNT, f"g{i}"),
            r.add_user_to_group(ACCOUNT, f"g{i}", "alice"),
        ),
    ),
    ("custom policies per user", 10, "User.Policy", _custom_attached(USER, "alice")),
    ("custom policies per group", 5, "Group.Policy", _custom_attached(GROUP, "devs")),
    ("custom policies per role", 5, "Role.Policy", _custom_attached(ROLE, "Writer")),
    (
        "versions per policy",
        4,
        "Policy.Version",
        lambda r, i: r.create_policy_version(ACCOUNT, "p1", DOC),
    ),  # v1 + 4 = 5
    ("groups", 49, "Group", lambda r, i: r.create_group(ACCOUNT, f"g{i}")),  # devs + 49
]


@pytest.mark.parametrize(
    ("allowed", "kind", "step"), [pytest.param(n, k, s, id=label) for label, n, k, s in QUOTAS]
)
def test_default_quota(allowed: int, kind: str, step: Callable[[RamService, int], object]) -> None:
    ram = make_world().ram
    _seed(ram)
    _fill(allowed, step)(ram)
    with pytest.raises(LimitExceeded) as caught:
        step(ram, allowed)
    assert caught.value.kind == kind


@pytest.mark.parametrize(
    ("limits", "kind", "scenario"),
    [
        (RamLimits(users=2), "User", _fill(3, lambda r, i: r.create_user(ACCOUNT, f"u{i}"))),
        (RamLimits(roles=1), "Role", _fill(2, lambda r, i: r.create_role(ACCOUNT, f"r{i}", TRUST))),
        (
            RamLimits(custom_policies=1),
            "Policy",
            _fill(2, lambda r, i: r.create_policy(ACCOUNT, f"p{i}", DOC)),
        ),
        (
            RamLimits(system_policies_per_principal=1),
            "Role.Policy",
            _then(
                lambda r: r.create_role(ACCOUNT, "r", TRUST),
                lambda r: _attach(r, ROLE, "r", "AdministratorAccess", "System"),
                lambda r: _attach(r, ROLE, "r", "AliyunOSSFullAccess", "System"),
            ),
        ),
    ],
    ids=["users", "roles", "custom-policies", "system-per-principal"],
)
def test_configured_quota(limits: RamLimits, kind: str, scenario: Scenario) -> None:
    ram = make_world(limits).ram
    with pytest.raises(LimitExceeded) as caught:
        scenario(ram)
    assert caught.value.kind == kind


def test_rotation_makes_room_instead_of_failing() -> None:
    ram = make_world().ram
    _seed(ram)
    for _ in range(4):
        ram.create_policy_version(ACCOUNT, "p1", DOC)
    version = ram.create_policy_version(
        ACCOUNT, "p1", DOC, rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded"
    )
    assert version.version_id == "v6"
    versions = [v.version_id for v in ram.list_policy_versions(ACCOUNT, "p1", "Custom")]
    assert versions == ["v1", "v3", "v4", "v5", "v6"]  # v1 is the default, so v2 went
