"""The token cache: reuse while fresh, renewal at the threshold, one AssumeRole per burst."""

from __future__ import annotations

import asyncio

import pytest
from tests.unit.broker.support import START, ScriptedSts

from tessera.broker.cache import IssuedCredentials, TokenCache
from tessera.broker.errors import StsError
from tessera.broker.sts_client import AssumeRoleCall
from tessera.clock import FixedClock

CALL = AssumeRoleCall("acs:ram::1234567890123456:role/r", "alice", 3600, None)


def setup(
    renew_before: float = 1800, max_entries: int = 1000
) -> tuple[FixedClock, ScriptedSts, TokenCache]:
    clock = FixedClock(START)
    return clock, ScriptedSts(clock), TokenCache(clock, renew_before, max_entries)


def get(
    cache: TokenCache, sts: ScriptedSts, key: object = ("alice", "t")
) -> tuple[IssuedCredentials, bool]:
    return asyncio.run(cache.get(key, lambda: sts.assume_role(CALL)))


def test_reused_while_more_than_the_threshold_remains_then_renewed() -> None:
    clock, sts, cache = setup()
    first, cached = get(cache, sts)
    assert not cached and len(sts.calls) == 1
    clock.advance(1799)  # 1801 s remain
    again, cached = get(cache, sts)
    assert cached and again == first and len(sts.calls) == 1
    clock.advance(1)  # exactly 1800 s remain: renew
    renewed, cached = get(cache, sts)
    assert not cached and renewed.access_key_id != first.access_key_id
    assert len(sts.calls) == 2
    assert renewed.expires_at - clock.now() == 3600


def test_keys_do_not_share_tokens() -> None:
    _, sts, cache = setup()
    a, _ = get(cache, sts, ("alice", "t", (("device_id", "d1"),)))
    b, _ = get(cache, sts, ("alice", "t", (("device_id", "d2"),)))
    c, _ = get(cache, sts, ("bob", "t", (("device_id", "d1"),)))
    assert len({a.access_key_id, b.access_key_id, c.access_key_id}) == 3


def test_a_burst_costs_one_assume_role() -> None:
    _clock, sts, cache = setup()

    async def burst() -> list[tuple[IssuedCredentials, bool]]:
        sts.gate = asyncio.Event()
        tasks = [
            asyncio.ensure_future(cache.get("k", lambda: sts.assume_role(CALL))) for _ in range(50)
        ]
        await asyncio.sleep(0)
        sts.gate.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(burst())
    assert len(sts.calls) == 1
    assert len({creds.access_key_id for creds, _ in results}) == 1
    assert [cached for _, cached in results].count(False) == 1


def test_a_waiter_that_goes_away_does_not_cancel_the_issuance_for_the_others() -> None:
    _, sts, cache = setup()

    async def scenario() -> IssuedCredentials:
        sts.gate = asyncio.Event()
        first = asyncio.ensure_future(cache.get("k", lambda: sts.assume_role(CALL)))
        second = asyncio.ensure_future(cache.get("k", lambda: sts.assume_role(CALL)))
        await asyncio.sleep(0)
        first.cancel()
        sts.gate.set()
        creds, _ = await second
        return creds

    creds = asyncio.run(scenario())
    assert creds.access_key_id == "STS.test0001" and len(sts.calls) == 1
    assert cache.fresh("k") == creds


def test_failures_reach_every_waiter_and_are_not_cached() -> None:
    _, sts, cache = setup()
    sts.fail = StsError("NoPermission", "denied")

    async def burst() -> list[object]:
        sts.gate = asyncio.Event()
        tasks = [
            asyncio.ensure_future(cache.get("k", lambda: sts.assume_role(CALL))) for _ in range(5)
        ]
        await asyncio.sleep(0)
        sts.gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(burst())
    assert all(isinstance(r, StsError) and r.code == "NoPermission" for r in results)
    assert len(sts.calls) == 1 and len(cache) == 0
    sts.fail = None
    _creds, cached = get(cache, sts, "k")
    assert not cached and len(sts.calls) == 2


def test_a_token_too_short_lived_to_keep_is_served_but_not_cached() -> None:
    _clock, sts, cache = setup(renew_before=3600)
    get(cache, sts)
    get(cache, sts)
    assert len(sts.calls) == 2 and len(cache) == 0


def test_the_number_of_entries_is_bounded() -> None:
    _clock, sts, cache = setup(max_entries=10)
    for n in range(25):
        get(cache, sts, f"user{n}")
    assert len(cache) == 10
    assert cache.fresh("user24") is not None and cache.fresh("user0") is None


def test_repr_hides_secret_and_token() -> None:
    _, sts, cache = setup()
    creds, _ = get(cache, sts)
    assert creds.access_key_secret not in repr(creds)
    assert creds.security_token not in repr(creds)


@pytest.mark.parametrize("remaining", [1801, 3600])
def test_fresh_boundary(remaining: int) -> None:
    clock, sts, cache = setup()
    get(cache, sts)
    clock.advance(3600 - remaining)
    assert cache.fresh(("alice", "t")) is not None
