"""The ``IdentityStore`` contract, run against every implementation (see ``conftest.py``)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.errors import (
    AlreadyExists,
    DeleteConflict,
    InvalidArgument,
    LimitExceeded,
    NotFound,
)
from tessera.store.base import (
    AccessKeyStatus,
    IdentityStore,
    PolicyType,
    PrincipalKind,
    Tag,
)

from .records import (
    ACCOUNT,
    DOC,
    MANY,
    OTHER_ACCOUNT,
    T1,
    account,
    custom_policy,
    fails,
    group,
    key,
    role,
    root_key,
    system_policy,
    user,
)

CUSTOM, SYSTEM = PolicyType.CUSTOM, PolicyType.SYSTEM
USER, GROUP, ROLE = PrincipalKind.USER, PrincipalKind.GROUP, PrincipalKind.ROLE


def add_user(store: IdentityStore, name: str, account_id: str = ACCOUNT) -> None:
    store.create_user(user(name, account_id), max_users=MANY)


def add_policy(store: IdentityStore, name: str, account_id: str = ACCOUNT) -> None:
    store.create_policy(custom_policy(name, account_id), DOC, max_policies=MANY)


def attach(
    store: IdentityStore,
    kind: PrincipalKind,
    principal: str,
    policy: str,
    policy_type: PolicyType = CUSTOM,
    account_id: str = ACCOUNT,
    limit: int = MANY,
) -> None:
    store.attach_policy(
        account_id, kind, principal, policy, policy_type, attach_date=T1, max_attached=limit
    )


def new_version(store: IdentityStore, name: str, document: str = DOC, **options: object) -> str:
    settings: dict[str, object] = {
        "set_default": False,
        "created_at": T1,
        "max_versions": 5,
        "rotate": False,
    }
    settings.update(options)
    version = store.create_policy_version(ACCOUNT, name, document, **settings)  # type: ignore[arg-type]
    return version.version_id


# ---- settings and accounts ----------------------------------------------------------------


def test_settings_round_trip(store: IdentityStore) -> None:
    assert store.get_setting("sts.keyring") is None
    store.put_setting("sts.keyring", "one")
    store.put_setting("sts.keyring", "two")
    assert store.get_setting("sts.keyring") == "two"


def test_accounts_are_listed_and_found(store: IdentityStore) -> None:
    assert [a.account_id for a in store.list_accounts()] == sorted([ACCOUNT, OTHER_ACCOUNT])
    assert store.get_account(ACCOUNT) == account(ACCOUNT)
    assert store.get_account("9999999999999999") is None


def test_root_key_is_found_globally_without_an_owner(store: IdentityStore) -> None:
    found = store.get_access_key(root_key(ACCOUNT).access_key_id)
    assert found == root_key(ACCOUNT)
    assert found is not None and found.is_root and found.user_name is None


def test_account_and_root_key_must_be_new(store: IdentityStore) -> None:
    with fails(AlreadyExists, "Account"):
        store.create_account(account(ACCOUNT), root_key(ACCOUNT, "LTAIfresh"))
    with fails(AlreadyExists, "AccessKey"):
        store.create_account(account("1111111111111111"), root_key(ACCOUNT))
    assert store.get_account("1111111111111111") is None  # nothing half-created


def test_more_root_keys_can_be_added(store: IdentityStore) -> None:
    store.add_root_access_key(root_key(ACCOUNT, "LTAIsecondroot"))
    assert [k.access_key_id for k in store.list_access_keys(ACCOUNT, None)] == [
        "LTAIroot" + ACCOUNT,
        "LTAIsecondroot",
    ]
    with fails(NotFound, "Account"):
        store.add_root_access_key(root_key("1111111111111111", "LTAIorphan"))


# ---- users --------------------------------------------------------------------------------


def test_user_round_trip(store: IdentityStore) -> None:
    alice = user("alice", display_name="Alice", email="a@example.com", mobile_phone="86-1")
    store.create_user(alice, max_users=MANY)
    assert store.get_user(ACCOUNT, "alice") == alice
    assert store.get_user_by_id(ACCOUNT, alice.user_id) == alice
    assert store.get_user_by_id(OTHER_ACCOUNT, alice.user_id) is None
    assert store.get_user(OTHER_ACCOUNT, "alice") is None
    assert store.get_user(ACCOUNT, "ALICE") is None  # user names are case-sensitive


def test_user_names_are_unique_per_account(store: IdentityStore) -> None:
    add_user(store, "alice")
    add_user(store, "alice", OTHER_ACCOUNT)
    with fails(AlreadyExists, "User"):
        store.create_user(replace(user("alice"), user_id="another-id"), max_users=MANY)


def test_user_needs_an_existing_account(store: IdentityStore) -> None:
    with fails(NotFound, "Account"):
        add_user(store, "alice", "1111111111111111")


def test_user_quota(store: IdentityStore) -> None:
    for name in ("a", "b"):
        store.create_user(user(name), max_users=2)
    with fails(LimitExceeded, "User"):
        store.create_user(user("c"), max_users=2)
    store.create_user(user("c", OTHER_ACCOUNT), max_users=2)  # per account


def test_user_rename_keeps_keys_groups_and_policies(store: IdentityStore) -> None:
    add_user(store, "alice")
    store.create_access_key(key(user("alice"), "LTAIalice1"), max_per_user=2)
    store.create_group(group("devs"), max_groups=MANY)
    store.add_user_to_group(ACCOUNT, "devs", "alice", join_date=T1, max_groups_per_user=5)
    store.put_system_policy(system_policy("ReadOnly"), DOC)
    attach(store, USER, "alice", "ReadOnly", SYSTEM)
    store.update_user(ACCOUNT, "alice", replace(user("alice"), user_name="alicia", updated_at=T1))
    assert store.get_user(ACCOUNT, "alice") is None
    renamed = store.get_user(ACCOUNT, "alicia")
    assert renamed is not None and renamed.updated_at == T1
    found = store.get_access_key("LTAIalice1")
    assert found is not None and found.user_name == "alicia"
    assert [m.group.group_name for m in store.list_groups_for_user(ACCOUNT, "alicia")] == ["devs"]
    assert [p.name for p in store.policies_for_user(ACCOUNT, "alicia")] == ["ReadOnly"]


def test_user_update_errors(store: IdentityStore) -> None:
    add_user(store, "alice")
    add_user(store, "bob")
    with fails(NotFound, "User"):
        store.update_user(ACCOUNT, "carol", user("carol"))
    with fails(AlreadyExists, "User"):
        store.update_user(ACCOUNT, "alice", replace(user("alice"), user_name="bob"))
    assert store.get_user(ACCOUNT, "alice") is not None


def test_delete_user(store: IdentityStore) -> None:
    add_user(store, "alice")
    store.delete_user(ACCOUNT, "alice")
    assert store.get_user(ACCOUNT, "alice") is None
    with fails(NotFound, "User"):
        store.delete_user(ACCOUNT, "alice")


@pytest.mark.parametrize("dependent", ["User.AccessKey", "User.Group", "User.Policy"])
def test_delete_user_refuses_dependents(store: IdentityStore, dependent: str) -> None:
    add_user(store, "alice")
    if dependent == "User.AccessKey":
        store.create_access_key(key(user("alice"), "LTAIalice1"), max_per_user=2)
    elif dependent == "User.Group":
        store.create_group(group("devs"), max_groups=MANY)
        store.add_user_to_group(ACCOUNT, "devs", "alice", join_date=T1, max_groups_per_user=5)
    else:
        add_policy(store, "p1")
        attach(store, USER, "alice", "p1")
    with fails(DeleteConflict, dependent):
        store.delete_user(ACCOUNT, "alice")
    assert store.get_user(ACCOUNT, "alice") is not None


def test_list_users_pages_by_name_without_gaps_or_duplicates(store: IdentityStore) -> None:
    names = [f"user-{i:03d}" for i in range(250)]
    for name in reversed(names):
        add_user(store, name)
    add_user(store, "zz-other", OTHER_ACCOUNT)
    seen: list[str] = []
    markers: list[str | None] = []
    marker: str | None = None
    while True:
        page = store.list_users(ACCOUNT, marker=marker, limit=100)
        seen.extend(u.user_name for u in page.items)
        if not page.is_truncated:
            break
        marker = page.marker
        markers.append(marker)
    assert seen == names
    assert len(markers) == 2
    assert not set(markers) & set(names)  # opaque, not the bare name


def test_paging_exact_multiple_is_not_truncated(store: IdentityStore) -> None:
    for name in ("a", "b"):
        add_user(store, name)
    page = store.list_users(ACCOUNT, marker=None, limit=2)
    assert [u.user_name for u in page.items] == ["a", "b"]
    assert not page.is_truncated and page.marker is None


def test_bad_marker_is_rejected(store: IdentityStore) -> None:
    with pytest.raises(InvalidArgument) as caught:
        store.list_users(ACCOUNT, marker="%%%not-base64", limit=10)
    assert caught.value.param == "Marker"


# ---- access keys --------------------------------------------------------------------------


def test_access_key_round_trip(store: IdentityStore) -> None:
    add_user(store, "alice")
    alice = user("alice")
    store.create_access_key(key(alice, "LTAIb", T1), max_per_user=2)
    store.create_access_key(key(alice, "LTAIa", T1), max_per_user=2)
    assert store.get_access_key("LTAIa") == key(alice, "LTAIa", T1)
    assert [k.access_key_id for k in store.list_access_keys(ACCOUNT, "alice")] == ["LTAIa", "LTAIb"]
    assert store.get_access_key("LTAIunknown") is None


def test_access_key_secret_is_not_in_repr(store: IdentityStore) -> None:
    assert "cipher-root" not in repr(store.get_access_key(root_key().access_key_id))


def test_access_key_quota_and_owner(store: IdentityStore) -> None:
    add_user(store, "alice")
    alice = user("alice")
    for key_id in ("LTAI1", "LTAI2"):
        store.create_access_key(key(alice, key_id), max_per_user=2)
    with fails(LimitExceeded, "User.AccessKey"):
        store.create_access_key(key(alice, "LTAI3"), max_per_user=2)
    with fails(NotFound, "User"):
        store.create_access_key(key(user("ghost"), "LTAI4"), max_per_user=2)
    with fails(AlreadyExists, "AccessKey"):
        add_user(store, "bob")
        store.create_access_key(key(user("bob"), "LTAI1"), max_per_user=2)
    with fails(NotFound, "User"):
        store.list_access_keys(ACCOUNT, "ghost")


def test_access_key_status_and_delete_check_the_owner(store: IdentityStore) -> None:
    add_user(store, "alice")
    add_user(store, "bob")
    store.create_access_key(key(user("alice"), "LTAIalice"), max_per_user=2)
    with fails(NotFound, "User.AccessKey"):
        store.set_access_key_status(ACCOUNT, "bob", "LTAIalice", AccessKeyStatus.INACTIVE)
    with fails(NotFound, "User.AccessKey"):
        store.delete_access_key(OTHER_ACCOUNT, None, "LTAIalice")
    with fails(NotFound, "User.AccessKey"):
        store.delete_access_key(ACCOUNT, None, "LTAIalice")  # not a root key
    store.set_access_key_status(ACCOUNT, "alice", "LTAIalice", AccessKeyStatus.INACTIVE)
    found = store.get_access_key("LTAIalice")
    assert found is not None and found.status is AccessKeyStatus.INACTIVE
    store.delete_access_key(ACCOUNT, "alice", "LTAIalice")
    assert store.get_access_key("LTAIalice") is None
    with fails(NotFound, "User.AccessKey"):
        store.delete_access_key(ACCOUNT, "alice", "LTAIalice")


def test_touch_access_key_records_last_use(store: IdentityStore) -> None:
    store.touch_access_key(root_key().access_key_id, T1)
    store.touch_access_key("LTAIunknown", T1)  # ignored
    found = store.get_access_key(root_key().access_key_id)
    assert found is not None and found.last_used_at == T1


def test_racing_key_creation_never_exceeds_the_quota(store: IdentityStore) -> None:
    add_user(store, "alice")
    alice = user("alice")
    threads, start = 8, threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        start.wait()
        try:
            store.create_access_key(key(alice, f"LTAIrace{index}"), max_per_user=2)
            result = "created"
        except LimitExceeded:
            result = "limited"
        with lock:
            outcomes.append(result)

    workers = [threading.Thread(target=create, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == ["created"] * 2 + ["limited"] * 6
    assert len(store.list_access_keys(ACCOUNT, "alice")) == 2


# ---- groups -------------------------------------------------------------------------------


def test_group_round_trip_and_rename(store: IdentityStore) -> None:
    store.create_group(group("devs", comments="c"), max_groups=MANY)
    assert store.get_group(ACCOUNT, "devs") == group("devs", comments="c")
    assert store.get_group(OTHER_ACCOUNT, "devs") is None
    with fails(AlreadyExists, "Group"):
        store.create_group(replace(group("devs"), group_id="g-x"), max_groups=MANY)
    store.update_group(ACCOUNT, "devs", replace(group("devs"), group_name="ops", updated_at=T1))
    assert store.get_group(ACCOUNT, "devs") is None
    renamed = store.get_group(ACCOUNT, "ops")
    assert renamed is not None and renamed.group_id == group("devs").group_id
    with fails(NotFound, "Group"):
        store.update_group(ACCOUNT, "devs", group("devs"))


def test_group_quota(store: IdentityStore) -> None:
    store.create_group(group("a"), max_groups=1)
    with fails(LimitExceeded, "Group"):
        store.create_group(group("b"), max_groups=1)


def test_membership(store: IdentityStore) -> None:
    add_user(store, "alice")
    for name in ("devs", "ops"):
        store.create_group(group(name), max_groups=MANY)
        store.add_user_to_group(ACCOUNT, name, "alice", join_date=T1, max_groups_per_user=5)
    with fails(AlreadyExists, "User.Group"):
        store.add_user_to_group(ACCOUNT, "devs", "alice", join_date=T1, max_groups_per_user=5)
    memberships = store.list_groups_for_user(ACCOUNT, "alice")
    assert [(m.group.group_name, m.join_date) for m in memberships] == [("devs", T1), ("ops", T1)]
    members = store.list_users_for_group(ACCOUNT, "devs", marker=None, limit=10)
    assert [(m.user.user_name, m.join_date) for m in members.items] == [("alice", T1)]
    store.remove_user_from_group(ACCOUNT, "devs", "alice")
    with fails(NotFound, "User.Group"):
        store.remove_user_from_group(ACCOUNT, "devs", "alice")
    assert [m.group.group_name for m in store.list_groups_for_user(ACCOUNT, "alice")] == ["ops"]


def test_membership_errors(store: IdentityStore) -> None:
    add_user(store, "alice")
    store.create_group(group("devs"), max_groups=MANY)
    with fails(NotFound, "Group"):
        store.add_user_to_group(ACCOUNT, "nope", "alice", join_date=T1, max_groups_per_user=5)
    with fails(NotFound, "User"):
        store.add_user_to_group(ACCOUNT, "devs", "nobody", join_date=T1, max_groups_per_user=5)
    store.create_group(group("ops"), max_groups=MANY)
    store.add_user_to_group(ACCOUNT, "devs", "alice", join_date=T1, max_groups_per_user=1)
    with fails(LimitExceeded, "User.Group"):
        store.add_user_to_group(ACCOUNT, "ops", "alice", join_date=T1, max_groups_per_user=1)
    with fails(NotFound, "User"):
        store.list_groups_for_user(ACCOUNT, "nobody")
    with fails(NotFound, "Group"):
        store.list_users_for_group(ACCOUNT, "nope", marker=None, limit=10)


def test_users_for_group_pages(store: IdentityStore) -> None:
    store.create_group(group("devs"), max_groups=MANY)
    names = [f"u{i:02d}" for i in range(25)]
    for name in names:
        add_user(store, name)
        store.add_user_to_group(ACCOUNT, "devs", name, join_date=T1, max_groups_per_user=5)
    add_user(store, "outsider")
    seen: list[object] = []
    marker: str | None = None
    while True:
        page = store.list_users_for_group(ACCOUNT, "devs", marker=marker, limit=10)
        seen.extend(m.user.user_name for m in page.items)
        if page.marker is None:
            break
        marker = page.marker
    assert seen == names


@pytest.mark.parametrize("dependent", ["Group.User", "Group.Policy"])
def test_delete_group_refuses_dependents(store: IdentityStore, dependent: str) -> None:
    store.create_group(group("devs"), max_groups=MANY)
    if dependent == "Group.User":
        add_user(store, "alice")
        store.add_user_to_group(ACCOUNT, "devs", "alice", join_date=T1, max_groups_per_user=5)
    else:
        add_policy(store, "p1")
        attach(store, GROUP, "devs", "p1")
    with fails(DeleteConflict, dependent):
        store.delete_group(ACCOUNT, "devs")
    assert store.get_group(ACCOUNT, "devs") is not None


def test_list_groups_pages(store: IdentityStore) -> None:
    for name in ("c", "a", "b"):
        store.create_group(group(name), max_groups=MANY)
    first = store.list_groups(ACCOUNT, marker=None, limit=2)
    rest = store.list_groups(ACCOUNT, marker=first.marker, limit=2)
    assert [g.group_name for g in first.items + rest.items] == ["a", "b", "c"]
    assert first.is_truncated and not rest.is_truncated
    store.delete_group(ACCOUNT, "a")
    assert store.get_group(ACCOUNT, "a") is None


# ---- roles --------------------------------------------------------------------------------


def test_role_names_are_case_insensitive(store: IdentityStore) -> None:
    store.create_role(role("OSS-Writer"), max_roles=MANY)
    found = store.get_role(ACCOUNT, "oss-writer")
    assert found == role("OSS-Writer")
    assert store.get_role_by_id(ACCOUNT, found.role_id) == found
    assert store.get_role(OTHER_ACCOUNT, "OSS-Writer") is None
    with fails(AlreadyExists, "Role"):
        store.create_role(replace(role("oss-writer"), role_id="rid-2"), max_roles=MANY)


def test_role_update_delete_and_quota(store: IdentityStore) -> None:
    store.create_role(role("r1"), max_roles=1)
    with fails(LimitExceeded, "Role"):
        store.create_role(role("r2"), max_roles=1)
    updated = replace(role("r1"), max_session_duration=7200, description="new", updated_at=T1)
    store.update_role(ACCOUNT, "R1", updated)
    assert store.get_role(ACCOUNT, "r1") == updated
    add_policy(store, "p1")
    attach(store, ROLE, "r1", "p1")
    with fails(DeleteConflict, "Role.Policy"):
        store.delete_role(ACCOUNT, "r1")
    store.detach_policy(ACCOUNT, ROLE, "R1", "p1", CUSTOM)
    store.delete_role(ACCOUNT, "r1")
    assert store.get_role(ACCOUNT, "r1") is None
    with fails(NotFound, "Role"):
        store.delete_role(ACCOUNT, "r1")


def test_list_roles_orders_case_insensitively_and_filters_by_tag(store: IdentityStore) -> None:
    team = Tag("team", "dev")
    store.create_role(role("beta", tags=(team, Tag("env", "prod"))), max_roles=MANY)
    store.create_role(role("Alpha"), max_roles=MANY)
    store.create_role(role("gamma", tags=(Tag("team", "ops"),)), max_roles=MANY)
    page = store.list_roles(ACCOUNT, marker=None, limit=2)
    rest = store.list_roles(ACCOUNT, marker=page.marker, limit=2)
    assert [r.role_name for r in page.items + rest.items] == ["Alpha", "beta", "gamma"]
    tagged = store.list_roles(ACCOUNT, marker=None, limit=10, tags=[team])
    assert [r.role_name for r in tagged.items] == ["beta"]
    assert tagged.items[0].tags == (team, Tag("env", "prod"))
    any_team = store.list_roles(ACCOUNT, marker=None, limit=10, tags=[Tag("team", "")])
    assert [r.role_name for r in any_team.items] == ["beta", "gamma"]


# ---- policies and versions ----------------------------------------------------------------


def test_system_policies_are_shared_by_all_accounts(store: IdentityStore) -> None:
    store.put_system_policy(system_policy("AdministratorAccess"), DOC)
    for account_id in (ACCOUNT, OTHER_ACCOUNT):
        found = store.get_policy(account_id, "AdministratorAccess", SYSTEM)
        assert found == system_policy("AdministratorAccess")
        assert store.get_policy(account_id, "AdministratorAccess", CUSTOM) is None
    version = store.get_policy_version(ACCOUNT, "AdministratorAccess", SYSTEM, "v1")
    assert version is not None and version.document == DOC and version.is_default
    assert version.account_id is None


def test_put_system_policy_is_idempotent_and_refreshes(store: IdentityStore) -> None:
    store.put_system_policy(system_policy("Admin"), DOC)
    store.put_system_policy(system_policy("Admin"), DOC)
    store.put_system_policy(replace(system_policy("Admin", "new"), updated_at=T1), "{}")
    found = store.get_policy(ACCOUNT, "Admin", SYSTEM)
    assert found is not None and found.description == "new" and found.updated_at == T1
    versions = store.list_policy_versions(ACCOUNT, "Admin", SYSTEM)
    assert [(v.version_id, v.document) for v in versions] == [("v1", "{}")]


def test_custom_policy_round_trip(store: IdentityStore) -> None:
    store.create_policy(custom_policy("p1", tags=(Tag("k", "v"),)), DOC, max_policies=MANY)
    found = store.get_policy(ACCOUNT, "p1", CUSTOM)
    assert found == custom_policy("p1", tags=(Tag("k", "v"),))
    assert store.get_policy(OTHER_ACCOUNT, "p1", CUSTOM) is None
    assert store.get_policy(ACCOUNT, "p1", SYSTEM) is None
    [version] = store.list_policy_versions(ACCOUNT, "p1", CUSTOM)
    assert (version.version_id, version.is_default, version.document) == ("v1", True, DOC)
    assert version.account_id == ACCOUNT
    [created] = [new_version(store, "p1")]
    assert store.list_policy_versions(ACCOUNT, "p1", CUSTOM)[-1].account_id == ACCOUNT
    assert created == "v2"


def test_custom_policy_names(store: IdentityStore) -> None:
    store.put_system_policy(system_policy("Admin"), DOC)
    with fails(AlreadyExists, "Policy"):
        add_policy(store, "Admin")
    add_policy(store, "p1")
    with fails(AlreadyExists, "Policy"):
        add_policy(store, "p1")
    add_policy(store, "p1", OTHER_ACCOUNT)
    with fails(LimitExceeded, "Policy"):
        store.create_policy(custom_policy("p2"), DOC, max_policies=1)
    with fails(NotFound, "Account"):
        add_policy(store, "p3", "1111111111111111")


def test_update_policy_description(store: IdentityStore) -> None:
    add_policy(store, "p1")
    store.update_policy_description(ACCOUNT, "p1", "better", updated_at=T1)
    found = store.get_policy(ACCOUNT, "p1", CUSTOM)
    assert found is not None and (found.description, found.updated_at) == ("better", T1)
    store.put_system_policy(system_policy("Admin"), DOC)
    with fails(NotFound, "Policy"):
        store.update_policy_description(ACCOUNT, "Admin", "mine now", updated_at=T1)


def test_policy_versions(store: IdentityStore) -> None:
    add_policy(store, "p1")
    assert new_version(store, "p1", "{2}") == "v2"
    assert new_version(store, "p1", "{3}", set_default=True) == "v3"
    found = store.get_policy(ACCOUNT, "p1", CUSTOM)
    assert found is not None and found.default_version == "v3" and found.updated_at == T1
    versions = store.list_policy_versions(ACCOUNT, "p1", CUSTOM)
    assert [(v.version_id, v.is_default) for v in versions] == [
        ("v1", False),
        ("v2", False),
        ("v3", True),
    ]
    store.set_default_policy_version(ACCOUNT, "p1", "v2", updated_at=T1)
    default = store.get_policy_version(ACCOUNT, "p1", CUSTOM, "v2")
    assert default is not None and default.is_default and default.document == "{2}"
    assert store.get_policy_version(ACCOUNT, "p1", CUSTOM, "v9") is None
    assert store.get_policy_version(ACCOUNT, "p1", CUSTOM, "nonsense") is None


def test_policy_version_errors(store: IdentityStore) -> None:
    add_policy(store, "p1")
    with fails(DeleteConflict, "Policy.Version.Default"):
        store.delete_policy_version(ACCOUNT, "p1", "v1")
    with fails(NotFound, "Policy.Version"):
        store.delete_policy_version(ACCOUNT, "p1", "v7")
    with fails(NotFound, "Policy.Version"):
        store.set_default_policy_version(ACCOUNT, "p1", "v7", updated_at=T1)
    with fails(NotFound, "Policy"):
        new_version(store, "nope")
    with fails(NotFound, "Policy"):
        store.list_policy_versions(ACCOUNT, "nope", CUSTOM)


def test_version_limit_and_rotation(store: IdentityStore) -> None:
    add_policy(store, "p1")
    for expected in ("v2", "v3", "v4", "v5"):
        assert new_version(store, "p1") == expected
    with fails(LimitExceeded, "Policy.Version"):
        new_version(store, "p1")
    store.set_default_policy_version(ACCOUNT, "p1", "v2", updated_at=T1)
    assert new_version(store, "p1", rotate=True) == "v6"  # v1, the oldest non-default, goes
    remaining = [v.version_id for v in store.list_policy_versions(ACCOUNT, "p1", CUSTOM)]
    assert remaining == ["v2", "v3", "v4", "v5", "v6"]
    store.delete_policy_version(ACCOUNT, "p1", "v6")
    assert new_version(store, "p1") == "v7"  # numbers are never reused


def test_delete_policy(store: IdentityStore) -> None:
    add_policy(store, "p1")
    new_version(store, "p1")
    with fails(DeleteConflict, "Policy.Version"):
        store.delete_policy(ACCOUNT, "p1", cascade=False)
    store.delete_policy(ACCOUNT, "p1", cascade=True)
    assert store.get_policy(ACCOUNT, "p1", CUSTOM) is None
    with fails(NotFound, "Policy"):
        store.delete_policy(ACCOUNT, "p1", cascade=True)
    add_policy(store, "p1")  # the name is free again, with a fresh v1
    assert [v.version_id for v in store.list_policy_versions(ACCOUNT, "p1", CUSTOM)] == ["v1"]


@pytest.mark.parametrize("kind", list(PrincipalKind))
def test_delete_policy_refuses_attachments(store: IdentityStore, kind: PrincipalKind) -> None:
    add_policy(store, "p1")
    make = {
        USER: lambda: add_user(store, "x"),
        GROUP: lambda: store.create_group(group("x"), max_groups=MANY),
        ROLE: lambda: store.create_role(role("x"), max_roles=MANY),
    }
    make[kind]()
    attach(store, kind, "x", "p1")
    with fails(DeleteConflict, f"Policy.{kind}"):
        store.delete_policy(ACCOUNT, "p1", cascade=True)


def test_system_policies_cannot_be_changed_through_custom_calls(store: IdentityStore) -> None:
    store.put_system_policy(system_policy("Admin"), DOC)
    with fails(NotFound, "Policy"):
        store.delete_policy(ACCOUNT, "Admin", cascade=True)
    with fails(NotFound, "Policy"):
        new_version(store, "Admin")
    with fails(NotFound, "Policy"):
        store.set_default_policy_version(ACCOUNT, "Admin", "v1", updated_at=T1)


def test_list_policies_custom_first_then_system_with_paging(store: IdentityStore) -> None:
    for name in ("SysB", "SysA"):
        store.put_system_policy(system_policy(name), DOC)
    for name in ("c2", "c1", "c3"):
        add_policy(store, name)
    add_policy(store, "theirs", OTHER_ACCOUNT)
    seen: list[object] = []
    marker: str | None = None
    while True:
        page = store.list_policies(ACCOUNT, policy_type=None, marker=marker, limit=2)
        seen.extend((str(p.policy_type), p.name) for p in page.items)
        if page.marker is None:
            break
        marker = page.marker
    assert seen == [
        ("Custom", "c1"),
        ("Custom", "c2"),
        ("Custom", "c3"),
        ("System", "SysA"),
        ("System", "SysB"),
    ]
    only_system = store.list_policies(ACCOUNT, policy_type=SYSTEM, marker=None, limit=10)
    assert [p.name for p in only_system.items] == ["SysA", "SysB"]
    only_custom = store.list_policies(ACCOUNT, policy_type=CUSTOM, marker=None, limit=10)
    assert [p.name for p in only_custom.items] == ["c1", "c2", "c3"]


def test_list_policies_filters_by_tag(store: IdentityStore) -> None:
    store.create_policy(custom_policy("a", tags=(Tag("k", "1"),)), DOC, max_policies=MANY)
    store.create_policy(custom_policy("b", tags=(Tag("k", "2"),)), DOC, max_policies=MANY)
    page = store.list_policies(
        ACCOUNT, policy_type=None, marker=None, limit=10, tags=[Tag("k", "2")]
    )
    assert [p.name for p in page.items] == ["b"]


# ---- attachments and effective policies ---------------------------------------------------


def test_attach_and_list(store: IdentityStore) -> None:
    add_user(store, "alice")
    store.put_system_policy(system_policy("ReadOnly"), DOC)
    add_policy(store, "p1")
    attach(store, USER, "alice", "p1")
    attach(store, USER, "alice", "ReadOnly", SYSTEM)
    found = store.list_policies_for(ACCOUNT, USER, "alice")
    assert [(str(a.policy.policy_type), a.policy.name, a.attach_date) for a in found] == [
        ("Custom", "p1", T1),
        ("System", "ReadOnly", T1),
    ]
    assert all(a.policy.attachment_count == 1 for a in found)
    with fails(AlreadyExists, "User.Policy"):
        attach(store, USER, "alice", "p1")


def test_attachment_errors(store: IdentityStore) -> None:
    add_policy(store, "p1")
    store.create_group(group("devs"), max_groups=MANY)
    with fails(NotFound, "User"):
        attach(store, USER, "ghost", "p1")
    with fails(NotFound, "Role"):
        attach(store, ROLE, "ghost", "p1")
    with fails(NotFound, "Policy"):
        attach(store, GROUP, "devs", "nope")
    with fails(NotFound, "Policy"):
        attach(store, GROUP, "devs", "p1", SYSTEM)
    with fails(NotFound, "Group.Policy"):
        store.detach_policy(ACCOUNT, GROUP, "devs", "p1", CUSTOM)
    with fails(NotFound, "Group"):
        store.list_policies_for(ACCOUNT, GROUP, "ghosts")


def test_attachment_quota_counts_each_policy_type_apart(store: IdentityStore) -> None:
    store.create_group(group("devs"), max_groups=MANY)
    for name in ("p1", "p2"):
        add_policy(store, name)
    store.put_system_policy(system_policy("S1"), DOC)
    attach(store, GROUP, "devs", "p1", limit=1)
    with fails(LimitExceeded, "Group.Policy"):
        attach(store, GROUP, "devs", "p2", limit=1)
    attach(store, GROUP, "devs", "S1", SYSTEM, limit=1)


def test_entities_for_policy_are_per_account(store: IdentityStore) -> None:
    store.put_system_policy(system_policy("ReadOnly"), DOC)
    add_user(store, "alice")
    add_user(store, "bob", OTHER_ACCOUNT)
    store.create_group(group("devs"), max_groups=MANY)
    store.create_role(role("Writer"), max_roles=MANY)
    attach(store, USER, "alice", "ReadOnly", SYSTEM)
    attach(store, GROUP, "devs", "ReadOnly", SYSTEM)
    attach(store, ROLE, "writer", "ReadOnly", SYSTEM)
    attach(store, USER, "bob", "ReadOnly", SYSTEM, account_id=OTHER_ACCOUNT)
    found = store.list_entities_for_policy(ACCOUNT, "ReadOnly", SYSTEM)
    assert [a.user.user_name for a in found.users] == ["alice"]
    assert [a.group.group_name for a in found.groups] == ["devs"]
    assert [(a.role.role_name, a.attach_date) for a in found.roles] == [("Writer", T1)]
    policy = store.get_policy(OTHER_ACCOUNT, "ReadOnly", SYSTEM)
    assert policy is not None and policy.attachment_count == 1
    with fails(NotFound, "Policy"):
        store.list_entities_for_policy(ACCOUNT, "nope", CUSTOM)


def test_policies_for_user_include_groups_once_at_the_default_version(
    store: IdentityStore,
) -> None:
    add_user(store, "alice")
    add_user(store, "bob")
    for name in ("devs", "ops"):
        store.create_group(group(name), max_groups=MANY)
        store.add_user_to_group(ACCOUNT, name, "alice", join_date=T1, max_groups_per_user=5)
    add_policy(store, "shared")
    add_policy(store, "own")
    attach(store, USER, "alice", "own")
    attach(store, GROUP, "devs", "shared")
    attach(store, GROUP, "ops", "shared")
    new_version(store, "shared", "{v2}", set_default=True)
    effective = store.policies_for_user(ACCOUNT, "alice")
    assert [(p.name, p.policy_type, p.version_id, p.document) for p in effective] == [
        ("own", CUSTOM, "v1", DOC),
        ("shared", CUSTOM, "v2", "{v2}"),
    ]
    assert store.policies_for_user(ACCOUNT, "bob") == []
    assert store.policies_for_user(ACCOUNT, "ghost") == []
    store.remove_user_from_group(ACCOUNT, "devs", "alice")
    store.remove_user_from_group(ACCOUNT, "ops", "alice")
    assert [p.name for p in store.policies_for_user(ACCOUNT, "alice")] == ["own"]


def test_policies_for_role(store: IdentityStore) -> None:
    store.create_role(role("Writer"), max_roles=MANY)
    store.put_system_policy(system_policy("OSSFull"), DOC)
    attach(store, ROLE, "Writer", "OSSFull", SYSTEM)
    [found] = store.policies_for_role(ACCOUNT, "WRITER")
    assert (found.name, found.policy_type, found.version_id) == ("OSSFull", SYSTEM, "v1")
    assert store.policies_for_role(OTHER_ACCOUNT, "Writer") == []
    store.detach_policy(ACCOUNT, ROLE, "writer", "OSSFull", SYSTEM)
    assert store.policies_for_role(ACCOUNT, "Writer") == []


# ---- paging, as a property ----------------------------------------------------------------

_accounts = itertools.count(1_000_000_000_000_000)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.sets(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True), max_size=25),
    size=st.integers(min_value=1, max_value=7),
)
def test_pages_cover_every_name_once_in_order(
    empty_store: IdentityStore, names: set[str], size: int
) -> None:
    account_id = str(next(_accounts))  # a fresh account per example, in the same store
    empty_store.create_account(account(account_id), root_key(account_id))
    for name in names:
        add_user(empty_store, name, account_id)
    seen: list[str] = []
    marker: str | None = None
    while True:
        page = empty_store.list_users(account_id, marker=marker, limit=size)
        assert len(page.items) <= size
        seen.extend(u.user_name for u in page.items)
        if page.marker is None:
            break
        marker = page.marker
    assert seen == sorted(names)
