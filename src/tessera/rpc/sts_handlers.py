"""STS 2015-04-01 actions: AssumeRole and GetCallerIdentity, registered into the action table.

Owns: reading STS parameters and shaping STS responses (spec §1.2, §1.5).
Must not: hold AssumeRole rules (``sts.assume_role`` does) or know about HTTP.
"""

from __future__ import annotations

from typing import Any

from tessera.identity.model import IdentityType
from tessera.rpc.actions import STS_VERSION, Action, ActionTable, RpcContext
from tessera.sts.assume_role import AssumeRoleInput


def condition_context(ctx: RpcContext) -> dict[str, tuple[str, ...]]:
    """The global condition keys every policy decision of an RPC request may use."""
    from tessera.clock import iso8601

    facts = ctx.facts
    context: dict[str, tuple[str, ...]] = {
        "acs:SourceIp": (facts.source_ip,),
        "acs:CurrentTime": (iso8601(ctx.now),),
        "acs:SecureTransport": ("true" if facts.secure_transport else "false",),
        "acs:AccessId": (ctx.caller.access_key_id,),
        "acs:MFAPresent": ("false",),
    }
    if facts.user_agent:
        context["acs:UserAgent"] = (facts.user_agent,)
    if facts.referer:
        context["acs:Referer"] = (facts.referer,)
    return context


def assume_role(ctx: RpcContext) -> dict[str, Any]:
    params = ctx.params
    request = AssumeRoleInput(
        role_arn=params.require("RoleArn"),
        role_session_name=params.require("RoleSessionName"),
        policy=params.get("Policy"),
        duration_seconds=params.get("DurationSeconds"),
        external_id=params.get("ExternalId"),
        source_identity=params.get("SourceIdentity"),
    )
    return ctx.services.assume_role.assume_role(  # type: ignore[no-any-return]
        ctx.caller, request, ctx.now, condition_context(ctx), ctx.record.note_decision
    )


def get_caller_identity(ctx: RpcContext) -> dict[str, Any]:
    caller = ctx.caller
    body: dict[str, Any] = {
        "AccountId": caller.account_id,
        "Arn": caller.arn,
        "IdentityType": caller.identity_type.value,
        "PrincipalId": caller.principal_id,
    }
    if caller.identity_type is IdentityType.ASSUMED_ROLE:
        body["RoleId"] = caller.role_id
    else:
        body["UserId"] = caller.user_id if caller.user_id else caller.account_id
    return body


def register(table: ActionTable) -> None:
    table.register(Action("AssumeRole", STS_VERSION, assume_role, None, blocking=False))
    table.register(
        Action("GetCallerIdentity", STS_VERSION, get_caller_identity, None, blocking=False)
    )
