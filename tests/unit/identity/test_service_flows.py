"""RamService behaviour beyond single-parameter rules: keys and secrets, accounts, roles,
policies and versions, paging, the change listener, concurrency."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import pytest

from tessera.clock import iso8601
from tessera.errors import (
    AlreadyExists,
    InvalidArgument,
    LimitExceeded,
    MalformedPolicy,
    MissingArgument,
)
from tessera.identity.service import RamService
from tessera.identity.system_policies import SYSTEM_POLICIES
from tessera.ids import SecureIds
from tessera.store import AccessKeyStatus, PolicyType, PrincipalKind, Tag, open_sqlite_store

from .support import (
    ACCOUNT,
    DOC,
    OTHER_ACCOUNT,
    START,
    START_ISO,
    TRUST,
    World,
    make_world,
    seal,
    unseal,
)

# ---- access keys --------------------------------------------------------------------------


def test_new_key_secret_is_returned_once_and_stored_sealed(world: World) -> None:
    ram, store = world.ram, world.store
    ram.create_user(ACCOUNT, "alice")
    issued = ram.create_access_key(ACCOUNT, "alice")
    key = issued.key
    assert re.fullmatch(r"LTAI[A-Za-z0-9]{20}", key.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9]{30}", issued.secret)
    assert (key.status, key.created_at, key.user_name) == (
        AccessKeyStatus.ACTIVE,
        START_ISO,
        "alice",
    )
    stored = store.get_access_key(key.access_key_id)
    assert stored is not None and issued.secret not in stored.secret_ciphertext
    assert unseal(stored.secret_ciphertext, key.access_key_id) == issued.secret  # aad = key id
    assert issued.secret not in repr(issued)
    listed = ram.list_access_keys(ACCOUNT, "alice")
    assert [k.access_key_id for k in listed] == [key.access_key_id]


def test_key_actions_default_to_the_calling_user(ram: RamService) -> None:
    ram.create_user(ACCOUNT, "alice")
    key = ram.create_access_key(ACCOUNT, caller_user_name="alice").key
    assert key.user_name == "alice"
    assert ram.list_access_keys(ACCOUNT, caller_user_name="alice") == [key]
    ram.update_access_key(ACCOUNT, key.access_key_id, "Inactive", caller_user_name="alice")
    assert (
        ram.get_access_key_last_used(ACCOUNT, key.access_key_id, caller_user_name="alice").status
        is AccessKeyStatus.INACTIVE
    )
    ram.delete_access_key(ACCOUNT, key.access_key_id, caller_user_name="alice")
    assert ram.list_access_keys(ACCOUNT, "alice") == []


def test_root_and_role_callers_must_name_the_user(ram: RamService) -> None:
    for call in (
        lambda: ram.create_access_key(ACCOUNT),
        lambda: ram.list_access_keys(ACCOUNT),
        lambda: ram.delete_access_key(ACCOUNT, "LTAIx"),
    ):
        with pytest.raises(MissingArgument) as caught:
            call()
        assert caught.value.param == "UserName"


def test_an_explicit_user_name_wins_over_the_caller(ram: RamService) -> None:
    ram.create_user(ACCOUNT, "alice")
    ram.create_user(ACCOUNT, "bob")
    key = ram.create_access_key(ACCOUNT, "bob", caller_user_name="alice").key
    assert key.user_name == "bob"


def test_last_used_date(world: World) -> None:
    ram = world.ram
    ram.create_user(ACCOUNT, "alice")
    key = ram.create_access_key(ACCOUNT, "alice").key
    assert ram.get_access_key_last_used(ACCOUNT, key.access_key_id, "alice").last_used_at is None
    world.store.touch_access_key(key.access_key_id, iso8601(START + 60))
    used = ram.get_access_key_last_used(ACCOUNT, key.access_key_id, "alice")
    assert used.last_used_at == iso8601(START + 60)


def test_racing_create_access_key_on_sqlite_never_yields_three_keys(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "identity.db")
    try:
        ram = make_world(store=store).ram
        ram.create_user(ACCOUNT, "alice")
        ram.create_access_key(ACCOUNT, "alice")
        barrier, outcomes = threading.Barrier(2), []

        def race() -> None:
            barrier.wait()
            try:
                ram.create_access_key(ACCOUNT, "alice")
                outcomes.append("created")
            except LimitExceeded:
                outcomes.append("limited")

        threads = [threading.Thread(target=race) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["created", "limited"]
        assert len(ram.list_access_keys(ACCOUNT, "alice")) == 2
    finally:
        store.close()


# ---- accounts -----------------------------------------------------------------------------


def test_create_account_generates_everything(world: World) -> None:
    account, key, secret = world.ram.create_account()
    assert re.fullmatch(r"[1-9][0-9]{15}", account.account_id)
    assert key.is_root and key.account_id == account.account_id
    assert secret is not None and unseal(key.secret_ciphertext, key.access_key_id) == secret
    assert world.store.get_access_key(key.access_key_id) == key


def test_create_account_with_given_values_is_idempotent(world: World) -> None:
    ram = world.ram
    account, key, secret = ram.create_account("1111222233334444", "LTAIbootstrapKey01", "s3cret")
    assert (account.account_id, key.access_key_id, secret) == (
        "1111222233334444",
        "LTAIbootstrapKey01",
        "s3cret",
    )
    again = ram.create_account("1111222233334444", "LTAIbootstrapKey01", "s3cret")
    assert again == (account, key, None)  # nothing new was stored, so no secret to hand out
    assert [a.account_id for a in ram.list_accounts()].count("1111222233334444") == 1


def test_create_account_with_only_a_key_finds_its_account_again(world: World) -> None:
    first = world.ram.create_account(None, "LTAIfromEnvironment", "pw")
    again = world.ram.create_account(None, "LTAIfromEnvironment", "pw")
    assert again == (first[0], first[1], None)


def test_create_account_adds_a_given_root_key_to_an_existing_account(world: World) -> None:
    account, key, secret = world.ram.create_account(ACCOUNT, "LTAIsecondRootKey1", "pw")
    assert key.is_root and account.account_id == ACCOUNT and secret == "pw"
    with pytest.raises(AlreadyExists) as caught:
        world.ram.create_account(ACCOUNT)
    assert caught.value.kind == "Account"


def test_create_account_treats_empty_values_as_absent(world: World) -> None:
    account, key, secret = world.ram.create_account("", "", "")
    assert len(account.account_id) == 16 and key.access_key_id.startswith("LTAI") and secret


def test_create_account_refuses_a_key_of_someone_else(world: World) -> None:
    world.ram.create_user(ACCOUNT, "alice")
    user_key = world.ram.create_access_key(ACCOUNT, "alice").key.access_key_id
    for account_id, key_id in ((ACCOUNT, user_key), (OTHER_ACCOUNT, user_key)):
        with pytest.raises(AlreadyExists) as caught:
            world.ram.create_account(account_id, key_id, "pw")
        assert caught.value.kind == "AccessKey"


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (("123",), "AccountId"),
        (("12345678901234567",), "AccountId"),
        ((ACCOUNT, "STS.notAllowed"), "AccessKeyId"),
        ((ACCOUNT, "LTAIok", "with space"), "AccessKeySecret"),
    ],
)
def test_create_account_validates(ram: RamService, args: tuple[str, ...], param: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ram.create_account(*args)
    assert caught.value.param == param


# ---- users and groups ---------------------------------------------------------------------


def test_update_user_changes_only_what_is_given(world: World) -> None:
    ram = world.ram
    ram.create_user(ACCOUNT, "alice", display_name="Alice", email="a@example.com")
    world.clock.advance(60)
    updated = ram.update_user(ACCOUNT, "alice", new_user_name="alicia", new_comments="hi")
    assert (updated.user_name, updated.display_name, updated.email, updated.comments) == (
        "alicia",
        "Alice",
        "a@example.com",
        "hi",
    )
    assert (updated.created_at, updated.updated_at) == (START_ISO, iso8601(START + 60))
    assert ram.get_user(ACCOUNT, "alicia") == updated


def test_groups_and_memberships(world: World) -> None:
    ram = world.ram
    ram.create_user(ACCOUNT, "alice")
    group = ram.create_group(ACCOUNT, "devs", comments="developers")
    assert re.fullmatch(r"g-[A-Za-z0-9]{14}", group.group_id)
    ram.add_user_to_group(ACCOUNT, "devs", "alice")
    [membership] = ram.list_groups_for_user(ACCOUNT, "alice")
    assert (membership.group, membership.join_date) == (group, START_ISO)
    renamed = ram.update_group(ACCOUNT, "devs", new_group_name="engineers")
    assert renamed.group_id == group.group_id and renamed.comments == "developers"
    members = ram.list_users_for_group(ACCOUNT, "engineers")
    assert [m.user.user_name for m in members.items] == ["alice"]
    ram.remove_user_from_group(ACCOUNT, "engineers", "alice")
    ram.delete_group(ACCOUNT, "engineers")
    assert ram.list_groups(ACCOUNT).items == ()


def test_list_users_in_pages_of_100(ram: RamService) -> None:
    names = sorted(f"user{i:03d}" for i in range(250))
    for name in names:
        ram.create_user(ACCOUNT, name)
    seen: list[str] = []
    pages, marker = 0, None
    while True:
        page = ram.list_users(ACCOUNT, marker=marker, max_items=100)
        pages += 1
        seen.extend(u.user_name for u in page.items)
        if not page.is_truncated:
            break
        assert page.marker is not None and page.marker not in names
        marker = page.marker
    assert pages == 3 and seen == names


# ---- roles --------------------------------------------------------------------------------


def test_create_role(world: World) -> None:
    role = world.ram.create_role(
        ACCOUNT, "OSS-Writer", TRUST, description="writes", tags=[Tag("team", "dev")]
    )
    assert role.arn == f"acs:ram::{ACCOUNT}:role/OSS-Writer"
    assert re.fullmatch(r"[1-9][0-9]{17}", role.role_id)
    assert (role.trust_policy, role.max_session_duration, role.created_at) == (
        TRUST,
        3600,
        START_ISO,
    )
    assert world.validator.calls == [(TRUST, "trust")]
    assert world.ram.get_role(ACCOUNT, "oss-writer") == role


def test_update_role_validates_the_new_trust_policy(world: World) -> None:
    ram = world.ram
    ram.create_role(ACCOUNT, "r", TRUST)
    with pytest.raises(MalformedPolicy):
        ram.update_role(ACCOUNT, "r", new_assume_role_policy_document="{nope")
    updated = ram.update_role(
        ACCOUNT, "R", new_assume_role_policy_document=DOC, new_allow_console_login=True
    )
    assert (updated.trust_policy, updated.allow_console_login, updated.role_name) == (
        DOC,
        True,
        "r",
    )
    assert world.validator.calls[-1] == (DOC, "trust")


def test_malformed_trust_policy_stores_nothing(ram: RamService) -> None:
    with pytest.raises(MalformedPolicy):
        ram.create_role(ACCOUNT, "r", "[]")
    assert ram.list_roles(ACCOUNT).items == ()


# ---- policies -----------------------------------------------------------------------------


def test_system_policies_are_visible_and_attachable_everywhere(ram: RamService) -> None:
    for account_id in (ACCOUNT, OTHER_ACCOUNT):
        listed = ram.list_policies(account_id, policy_type="System")
        assert {p.name for p in listed.items} >= {p.name for p in SYSTEM_POLICIES}
    ram.create_user(OTHER_ACCOUNT, "bob")
    ram.attach_policy(
        OTHER_ACCOUNT,
        PrincipalKind.USER,
        "bob",
        policy_name="AliyunOSSReadOnlyAccess",
        policy_type="System",
    )
    policy, default = ram.get_policy(OTHER_ACCOUNT, "AliyunOSSReadOnlyAccess", "System")
    assert (policy.attachment_count, policy.account_id, default.is_default) == (1, None, True)
    assert ram.get_policy(ACCOUNT, "AliyunOSSReadOnlyAccess", "System")[0].attachment_count == 0


def test_policy_life_cycle(world: World) -> None:
    ram = world.ram
    created = ram.create_policy(ACCOUNT, "p1", DOC, description="first")
    assert (created.policy_type, created.default_version, created.created_at) == (
        PolicyType.CUSTOM,
        "v1",
        START_ISO,
    )
    assert world.validator.calls == [(DOC, "identity")]
    v2 = ram.create_policy_version(ACCOUNT, "p1", "{}", set_as_default=True)
    assert (v2.version_id, v2.is_default) == ("v2", True)
    policy, default = ram.get_policy(ACCOUNT, "p1", "Custom")
    assert (policy.default_version, default.document) == ("v2", "{}")
    ram.set_default_policy_version(ACCOUNT, "p1", "v1")
    ram.delete_policy_version(ACCOUNT, "p1", "v2")
    world.clock.advance(5)
    described = ram.update_policy_description(ACCOUNT, "p1", "second")
    assert (described.description, described.updated_at) == ("second", iso8601(START + 5))
    ram.delete_policy(ACCOUNT, "p1")
    assert ram.list_policies(ACCOUNT, policy_type="Custom").items == ()


def test_cascading_delete_removes_versions(ram: RamService) -> None:
    ram.create_policy(ACCOUNT, "p1", DOC)
    ram.create_policy_version(ACCOUNT, "p1", DOC)
    ram.delete_policy(ACCOUNT, "p1", cascading_delete=True)
    assert ram.list_policies(ACCOUNT, policy_type="Custom").items == ()


def test_malformed_policy_document_is_rejected(world: World) -> None:
    ram = world.ram
    with pytest.raises(MalformedPolicy):
        ram.create_policy(ACCOUNT, "p1", "not json")
    ram.create_policy(ACCOUNT, "p1", DOC)
    with pytest.raises(MalformedPolicy):
        ram.create_policy_version(ACCOUNT, "p1", "not json")
    assert [v.version_id for v in ram.list_policy_versions(ACCOUNT, "p1", "Custom")] == ["v1"]


def test_entities_for_policy(ram: RamService) -> None:
    ram.create_user(ACCOUNT, "alice")
    ram.create_group(ACCOUNT, "devs")
    ram.create_role(ACCOUNT, "Writer", TRUST)
    ram.create_policy(ACCOUNT, "p1", DOC)
    for kind, name in (
        (PrincipalKind.USER, "alice"),
        (PrincipalKind.GROUP, "devs"),
        (PrincipalKind.ROLE, "Writer"),
    ):
        ram.attach_policy(ACCOUNT, kind, name, policy_name="p1", policy_type="Custom")
        [attached] = ram.list_policies_for(ACCOUNT, kind, name)
        assert (attached.policy.name, attached.attach_date) == ("p1", START_ISO)
    found = ram.list_entities_for_policy(ACCOUNT, "p1", "Custom")
    assert [a.user.user_name for a in found.users] == ["alice"]
    assert [a.group.group_name for a in found.groups] == ["devs"]
    assert [a.role.role_name for a in found.roles] == ["Writer"]
    ram.detach_policy(ACCOUNT, PrincipalKind.ROLE, "writer", policy_name="p1", policy_type="custom")
    assert ram.list_entities_for_policy(ACCOUNT, "p1", "Custom").roles == ()


# ---- the change listener ------------------------------------------------------------------


def test_listener_hears_writes_only(world: World) -> None:
    ram, listener = world.ram, world.listener
    ram.create_user(ACCOUNT, "alice")
    assert listener.calls == 1
    ram.get_user(ACCOUNT, "alice")
    ram.list_users(ACCOUNT)
    assert listener.calls == 1
    with pytest.raises(AlreadyExists):
        ram.create_user(ACCOUNT, "alice")
    assert listener.calls == 1  # failed writes change nothing
    ram.attach_policy(
        ACCOUNT,
        PrincipalKind.USER,
        "alice",
        policy_name="AdministratorAccess",
        policy_type="System",
    )
    assert listener.calls == 2


def test_a_failing_listener_does_not_fail_the_write(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("cache is gone")

    ram = RamService(
        world.store, world.clock, SecureIds(), seal, world.validator, change_listener=broken
    )
    with caplog.at_level(logging.ERROR, logger="tessera.identity.service"):
        user = ram.create_user(ACCOUNT, "alice")
    assert world.store.get_user(ACCOUNT, "alice") == user
    assert "change listener failed" in caplog.text
