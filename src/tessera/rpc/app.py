"""The RPC endpoint (RAM and STS): parameters → authenticate → authorize → dispatch → render.

Owns: the request pipeline of Alibaba's RPC protocol — collecting parameters (query plus form
body), classifying the signature (V1 ``Signature`` parameter or V3 ``ACS3-HMAC-SHA256``
header) exactly once, the timestamp window and nonce replay check, policy authorization of
actions that declare a ``policy_action``, running the handler (blocking ones in a worker
thread), and rendering every outcome, errors included, through ``rpc.errors``/``rpc.render``.
Must not: contain action-specific logic (handlers do) or wire codes (``rpc.errors`` does).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from starlette.concurrency import run_in_threadpool

from tessera.accesslog import AccessRecord
from tessera.clock import Clock
from tessera.errors import (
    AccessDenied,
    IncompleteSignature,
    InvalidArgument,
    MissingArgument,
    RequestExpired,
    SignatureMismatch,
    TesseraError,
    UnsupportedSignatureMethod,
)
from tessera.identity.authorize import authorize
from tessera.identity.resolve import Authenticated, Authenticator, PolicyResolver
from tessera.policy import AuthzRequest
from tessera.rpc import render
from tessera.rpc.actions import Action, ActionTable, RequestFacts, RpcContext
from tessera.rpc.errors import to_wire
from tessera.rpc.nonces import NonceCache, NonceGuard
from tessera.rpc.params import Params
from tessera.rpc.sts_handlers import condition_context
from tessera.signing import acs3, pop_v1

log = logging.getLogger("tessera.rpc")

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ACS3_PREFIX = "ACS3-"


@dataclass(slots=True)  # per-request record; not frozen: frozen __init__ costs ~3x
class RpcRequest:
    """The parts of an HTTP request the RPC pipeline reads."""

    method: str
    path: str
    query: Sequence[tuple[str, str]]
    form: Sequence[tuple[str, str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    facts: RequestFacts


@dataclass(slots=True)  # per-request record (see RpcRequest)
class SignedCall:
    """What the signature scheme says about the call, before the secret is known."""

    scheme: str  # "v1" or "v3"
    access_key_id: str
    security_token: str | None
    timestamp: float
    nonce: str
    action: str | None
    version: str | None


def parse_form(body: bytes, content_type: str) -> list[tuple[str, str]]:
    if not body or not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return []
    return decode_pairs(body)


def decode_pairs(raw: bytes) -> list[tuple[str, str]]:
    """``a=1&b=%20`` (query string or form body) to pairs, empty values kept, as
    ``urllib.parse.parse_qsl(keep_blank_values=True)`` does, but unquoting only the pieces
    that need it (most RPC parameters do not). Invalid UTF-8 is refused."""
    try:
        text = raw.decode("utf-8")
        pairs: list[tuple[str, str]] = []
        for piece in text.split("&"):
            if not piece:
                continue
            name, _, value = piece.partition("=")
            if "%" in piece or "+" in piece:
                name = unquote_plus(name, errors="strict")
                value = unquote_plus(value, errors="strict")
            pairs.append((name, value))
        return pairs
    except UnicodeDecodeError:
        raise InvalidArgument(
            "Query", None, "The request parameters are not valid UTF-8."
        ) from None


def parse_query(query_string: bytes) -> list[tuple[str, str]]:
    return decode_pairs(query_string)


class RpcApp:
    """Handles one RPC request end to end; see the module docstring for the order of checks."""

    def __init__(
        self,
        table: ActionTable,
        services: Any,
        authenticator: Authenticator,
        policies: PolicyResolver,
        clock: Clock,
        host_id: str,
        timestamp_window: float = 900.0,
        nonces: NonceGuard | None = None,
    ) -> None:
        self._table = table
        self._services = services
        self._authenticator = authenticator
        self._policies = policies
        self._clock = clock
        self._host_id = host_id
        self._window = timestamp_window
        self._nonces = nonces or NonceCache(timestamp_window)

    async def handle(self, request: RpcRequest, record: AccessRecord) -> tuple[int, bytes, bytes]:
        """(status, content type, body) for ``request``; never raises."""
        record.api = "rpc"
        params: dict[str, str] = dict(request.query)
        params.update(request.form)
        xml = self.wants_xml(params, request.headers)
        try:
            action, ctx = self._prepare(request, params, record)
            result = await (
                run_in_threadpool(action.handler, ctx) if action.blocking else _inline(action, ctx)
            )
            content_type, body = render.success(action.name, record.request_id, result, xml=xml)
            return 200, content_type, body
        except TesseraError as exc:
            if to_wire(exc).status == 500:  # the server's own failure: logged with its cause
                log.error("request %s failed: %s", record.request_id, exc, exc_info=exc)
            return self._failure(exc, record, xml)
        except Exception:  # the single 500 boundary of the RPC API
            log.exception("unhandled error in request %s", record.request_id)
            return self._failure(InternalErrorMarker(), record, xml)

    def _failure(self, exc: Exception, record: AccessRecord, xml: bool) -> tuple[int, bytes, bytes]:
        wire = to_wire(exc)
        extra = None
        if isinstance(exc, AccessDenied) and exc.detail:
            extra = {"AccessDeniedDetail": exc.detail}
        content_type, body = render.failure(
            wire, record.request_id, self._host_id, xml=xml, extra=extra
        )
        record.error_code = wire.code
        return wire.status, content_type, body

    @staticmethod
    def wants_xml(params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        fmt = params.get("Format")
        if fmt:
            return fmt.lower() == "xml"
        accept = headers.get("accept", "")
        return "xml" in accept and "json" not in accept

    def _prepare(
        self, request: RpcRequest, params: dict[str, str], record: AccessRecord
    ) -> tuple[Action, RpcContext]:
        authorization = request.headers.get("authorization", "")
        if authorization.startswith(ACS3_PREFIX):
            call, verify = self._classify_v3(request, authorization)
        else:
            call, verify = self._classify_v1(request, params)
        action = self._table.lookup(call.version, call.action)
        record.action = f"{action.service}:{action.name}"
        record.access_key_id = call.access_key_id
        now = self._clock.now()
        authenticated = self._authenticator.authenticate(
            call.access_key_id, call.security_token, now
        )
        verify(authenticated.secret)
        if abs(now - call.timestamp) > self._window:
            raise RequestExpired()
        self._nonces.check_and_remember(call.access_key_id, call.nonce, now)
        record.principal = authenticated.caller.display
        for name in _SIGNING_PARAMS:
            params.pop(name, None)
        ctx = RpcContext(
            request_id=record.request_id,
            caller=authenticated.caller,
            params=Params(params),
            now=now,
            facts=request.facts,
            record=record,
            services=self._services,
        )
        if action.policy_action is not None:
            self._authorize(action, ctx, authenticated)
        return action, ctx

    def _authorize(self, action: Action, ctx: RpcContext, authenticated: Authenticated) -> None:
        caller = authenticated.caller
        policy_action = action.policy_action or ""
        resource = action.resource(ctx) if action.resource is not None else "*"
        request = AuthzRequest(None, policy_action, resource, condition_context(ctx))
        verdict = authorize(
            caller,
            request,
            self._policies.identity_policies(caller),
            self._policies.session_policy(caller),
            resource_account=caller.account_id,
        )
        ctx.record.note_decision(policy_action, resource, verdict.decision_label)
        if not verdict.allowed:
            denied = AccessDenied(policy_action, resource, verdict.explanation)
            denied.detail = verdict.detail(caller, policy_action)
            raise denied

    def _classify_v1(
        self, request: RpcRequest, params: Mapping[str, str]
    ) -> tuple[SignedCall, Any]:
        for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp"):
            if not params.get(name):
                raise MissingArgument(name)
        method = params.get("SignatureMethod", "")
        if method.upper() != "HMAC-SHA1":
            raise (
                UnsupportedSignatureMethod(method) if method else MissingArgument("SignatureMethod")
            )
        if params.get("SignatureVersion", "1.0") != "1.0":
            raise InvalidArgument(
                "SignatureVersion", None, "Specified signature version is not valid."
            )
        call = SignedCall(
            "v1",
            params["AccessKeyId"],
            params.get("SecurityToken"),
            pop_v1.parse_timestamp(params["Timestamp"]),
            params["SignatureNonce"],
            params.get("Action"),
            params.get("Version"),
        )
        signed = [*request.query, *request.form]
        unsigned = [(k, v) for k, v in signed if k != "Signature"]
        provided = params["Signature"]

        def verify(secret: str) -> None:
            string_to_sign = pop_v1.verify(request.method, unsigned, secret, provided)
            if string_to_sign is not None:
                raise SignatureMismatch(string_to_sign)

        return call, verify

    def _classify_v3(self, request: RpcRequest, authorization: str) -> tuple[SignedCall, Any]:
        parsed = acs3.parse_authorization(authorization)
        headers = request.headers
        unsigned = acs3.unsigned_headers(headers, parsed.signed_headers)
        if unsigned:
            # an unsigned x-acs-action could otherwise be swapped to replay a signature
            raise IncompleteSignature(f"These headers must be signed: {', '.join(unsigned)}.")
        date = headers.get("x-acs-date")
        nonce = headers.get("x-acs-signature-nonce")
        if not date or not nonce:
            raise IncompleteSignature("x-acs-date and x-acs-signature-nonce are required.")
        payload_hash = (
            headers.get("x-acs-content-sha256") or hashlib.sha256(request.body).hexdigest()
        )
        if payload_hash != hashlib.sha256(request.body).hexdigest():
            raise IncompleteSignature("x-acs-content-sha256 does not match the request body.")
        call = SignedCall(
            "v3",
            parsed.access_key_id,
            headers.get("x-acs-security-token") or dict(request.query).get("SecurityToken"),
            pop_v1.parse_timestamp(date),
            nonce,
            headers.get("x-acs-action"),
            headers.get("x-acs-version"),
        )

        def verify(secret: str) -> None:
            mismatch = acs3.verify(
                method=request.method,
                canonical_uri=request.path or "/",
                query_pairs=request.query,
                headers=headers,
                signed_headers=parsed.signed_headers,
                hashed_payload=payload_hash,
                secret=secret,
                provided_signature=parsed.signature,
            )
            if mismatch is not None:
                raise SignatureMismatch(mismatch)

        return call, verify


_SIGNING_PARAMS = (
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "SecurityToken",
    "Format",
    "Action",
    "Version",
    "RegionId",
)


class InternalErrorMarker(Exception):
    """Stands for an unexpected exception when rendering the 500 (its details stay in the log)."""


async def _inline(action: Action, ctx: RpcContext) -> Any:
    return action.handler(ctx)
