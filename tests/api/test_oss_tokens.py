"""OSS refuses expired STS tokens with SecurityTokenExpired (spec/oss.md §4), on a live server.

As in test_errors.test_expired_token: Tessera's own AssumeRole code mints a token on the
server's data directory with a clock set two hours back (DurationSeconds 900); the running
server, on the real clock, must refuse it, while a token minted the same way now is accepted.
"""

from __future__ import annotations

import time

import pytest

from tests.api.clients import ROOT, Identities, session_creds
from tests.api.conftest import FreshServer
from tests.api.rawrpc import Credentials
from tests.api.test_oss_sdk import oss2_bucket, oss2_error
from tests.server import ACCOUNT_ID


@pytest.mark.parametrize("v4", [False, True], ids=["v1", "v4"])
def test_expired_token_is_refused_by_oss(fresh_server: FreshServer, v4: bool) -> None:
    from tessera.clock import FixedClock
    from tessera.config import Settings
    from tessera.identity.model import Caller, IdentityType
    from tessera.runtime import build_runtime
    from tessera.sts.assume_role import AssumeRoleInput

    server = fresh_server()
    ids = Identities(server)
    broker = ids.user("oss-exp-broker", system=("AliyunSTSAssumeRoleAccess",))
    role = ids.role("oss-exp-role", system=("AliyunOSSFullAccess",))
    oss2_bucket(server, ROOT, "expiry-bucket", v4).create_bucket()
    caller = Caller(
        IdentityType.RAM_USER,
        ACCOUNT_ID,
        broker.creds.access_key_id,
        user_id=broker.user_id,
        user_name=broker.name,
    )

    def mint(at: float) -> Credentials:
        runtime = build_runtime(Settings(data_dir=server.data_dir), clock=FixedClock(at))
        try:
            body = runtime.services.assume_role.assume_role(
                caller, AssumeRoleInput(role.arn, "minted", duration_seconds="900"), at, {}
            )
        finally:
            runtime.close()
        return session_creds(body)

    fresh = oss2_bucket(server, mint(time.time()), "expiry-bucket", v4)
    fresh.put_object("k", b"v")
    assert fresh.get_object("k").read() == b"v"
    stale = oss2_bucket(server, mint(time.time() - 7200), "expiry-bucket", v4)
    err = oss2_error(lambda: stale.get_object("k"))
    assert (err.status, err.code) == (403, "SecurityTokenExpired")
    err = oss2_error(lambda: stale.put_object("k2", b"x"))
    assert (err.status, err.code) == (403, "SecurityTokenExpired")
    assert not fresh.object_exists("k2")
    fresh.delete_object("k")
    oss2_bucket(server, ROOT, "expiry-bucket", v4).delete_bucket()
