"""The broker's HTTP API: a small ASGI app (Starlette's CORS middleware around it).

Routes (parameters in the query for GET and POST alike; POST exists for clients that must
not have a credentials answer cached by anything in between):

- ``GET|POST /v1/credentials/{template}`` — the ``credentials_uri`` JSON of
  ``alibabacloud-credentials`` and the aliyun CLI (spec sts-ram.md §5.1/§5.4):
  ``{"Code": "Success", "AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}``;
  errors ``{"Code", "Message", "RequestId"}``.
- ``GET|POST /v1/oss-mobile/{template}`` — the JSON of the OSS mobile SDKs'
  ``OSSAuthCredentialsProvider`` (§5.3): ``{"StatusCode": 200, "AccessKeyId", …}``; errors
  ``{"StatusCode", "ErrorCode", "ErrorMessage", "RequestId"}``.
- ``GET /-/health`` — 200 once the broker is serving.

Query parameters: ``device_id`` / ``bucket`` when the template takes them from the request,
``api_key`` when ``broker.query_api_key`` is on (both credential providers send a plain GET
and cannot add a header). Errors carry their real HTTP status (401 with
``WWW-Authenticate: Bearer``, 403, 404, 400, 429 with ``Retry-After``, 502 for STS, 500)
in both formats; ``StatusCode`` in the OSS format repeats it. (Android's
``HttpURLConnection`` throws on a status >= 400 before the SDK reads ``ErrorCode``; the app
sees an IOException instead of the code — it fails closed either way.) Every answer has
``Cache-Control: no-store``; CORS is added from ``[cors]`` for web apps.

Why not Starlette routing: a cached answer is the broker's hot path (bench/broker.py); three
fixed routes are matched by prefix here, which costs a fraction of Starlette's Request,
router and Response objects per request. Starlette's ``CORSMiddleware`` is pure ASGI and
wraps this app unchanged.

Owns: this mapping — error class → HTTP status (``STATUS``, the only one), both response
formats, request ids, and the single 500 boundary.
Must not: authenticate, rate-limit, cache or call STS itself (``tessera.broker.service``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.middleware.cors import CORSMiddleware

from tessera.asgi import ASGIApp, Receive, Scope, Send, lifespan
from tessera.broker.auth import Presented
from tessera.broker.cache import IssuedCredentials
from tessera.broker.config import CorsSettings
from tessera.broker.errors import (
    BrokerError,
    BrokerInternalError,
    Forbidden,
    InvalidCredentials,
    InvalidParameter,
    JwksUnavailable,
    StsError,
    TemplateNotFound,
    Throttled,
    Unauthenticated,
)
from tessera.broker.service import Broker, TokenRequest
from tessera.ids import request_id as new_request_id

log = logging.getLogger("tessera.broker")

#: error class → HTTP status, looked up through the MRO (a subclass inherits its parent's)
STATUS: dict[type[BrokerError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    TemplateNotFound: 404,
    InvalidParameter: 400,
    Throttled: 429,
    StsError: 502,
    JwksUnavailable: 502,
    BrokerInternalError: 500,
    BrokerError: 500,
}
REALM = 'Bearer realm="tessera-broker"'
CREDENTIALS_PATH = "/v1/credentials/"
OSS_MOBILE_PATH = "/v1/oss-mobile/"
HEALTH_PATH = "/-/health"
_BASE_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]


def status_of(error: BrokerError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


class Format:
    """One response format: how credentials and errors are shaped."""

    def __init__(
        self,
        success: Callable[[IssuedCredentials], dict[str, Any]],
        failure: Callable[[BrokerError, int, str], dict[str, Any]],
    ) -> None:
        self.success = success
        self.failure = failure


def _credentials_uri_error(error: BrokerError, status: int, request_id: str) -> dict[str, Any]:
    body = {"Code": error.code, "Message": error.message, "RequestId": request_id}
    if isinstance(error, StsError) and error.sts_request_id:
        body["StsRequestId"] = error.sts_request_id
    return body


def _oss_mobile_error(error: BrokerError, status: int, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "StatusCode": status,
        "ErrorCode": error.code,
        "ErrorMessage": error.message,
        "RequestId": request_id,
    }
    if isinstance(error, StsError) and error.sts_request_id:
        body["StsRequestId"] = error.sts_request_id
    return body


CREDENTIALS_URI = Format(
    lambda c: {
        "Code": "Success",
        "AccessKeyId": c.access_key_id,
        "AccessKeySecret": c.access_key_secret,
        "SecurityToken": c.security_token,
        "Expiration": c.expiration,
    },
    _credentials_uri_error,
)
OSS_MOBILE = Format(
    lambda c: {
        "StatusCode": 200,
        "AccessKeyId": c.access_key_id,
        "AccessKeySecret": c.access_key_secret,
        "SecurityToken": c.security_token,
        "Expiration": c.expiration,
    },
    _oss_mobile_error,
)


async def _respond(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _BASE_HEADERS + extra})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


def error_headers(error: BrokerError, request_id: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-request-id", request_id.encode())]
    if isinstance(error, Unauthenticated):
        challenge = (
            f'{REALM}, error="invalid_token"' if isinstance(error, InvalidCredentials) else REALM
        )
        headers.append((b"www-authenticate", challenge.encode()))
    if isinstance(error, Throttled):
        headers.append((b"retry-after", str(error.retry_after).encode()))
    return headers


def _presented(scope: Scope, query: dict[str, str]) -> Presented:
    authorization = api_key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"x-api-key":
            api_key = value.decode("latin-1")
    return Presented(authorization, api_key, query.get("api_key"))


def _query(scope: Scope) -> dict[str, str]:
    """The query parameters; the first of repeated names counts."""
    raw = scope.get("query_string") or b""
    if not raw:
        return {}
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        query.setdefault(name, value)
    return query


class BrokerApp:
    """The ASGI callable serving one ``Broker``."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith(CREDENTIALS_PATH):
            fmt, template = CREDENTIALS_URI, path[len(CREDENTIALS_PATH) :]
        elif path.startswith(OSS_MOBILE_PATH):
            fmt, template = OSS_MOBILE, path[len(OSS_MOBILE_PATH) :]
        elif path == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            await _respond(send, 200, {"Status": "OK"}, [])
            return
        else:
            await _respond(send, 404, {"Code": "NotFound", "Message": f"no route {path}"}, [])
            return
        if not template or "/" in template:
            await _respond(send, 404, {"Code": "NotFound", "Message": f"no route {path}"}, [])
            return
        if scope["method"] not in ("GET", "POST"):
            body = {"Code": "MethodNotAllowed", "Message": "use GET or POST"}
            await _respond(send, 405, body, [(b"allow", b"GET, POST")])
            return
        await self._token(scope, send, fmt, template)

    async def _token(self, scope: Scope, send: Send, fmt: Format, template: str) -> None:
        request_id = new_request_id()
        query = _query(scope)
        client = scope.get("client")
        request = TokenRequest(
            template=template,
            presented=_presented(scope, query),
            params=query,
            source_ip=client[0] if client else "",
            request_id=request_id,
        )
        try:
            issued, cached = await self.broker.credentials(request)
        except BrokerError as error:
            status = status_of(error)
            body = fmt.failure(error, status, request_id)
            await _respond(send, status, body, error_headers(error, request_id))
            return
        except Exception:
            log.exception("broker request %s failed", request_id)
            internal = BrokerInternalError("internal error")
            headers = [(b"x-request-id", request_id.encode())]
            await _respond(send, 500, fmt.failure(internal, 500, request_id), headers)
            return
        headers = [
            (b"x-request-id", request_id.encode()),
            (b"x-broker-cache", b"hit" if cached else b"miss"),
        ]
        await _respond(send, 200, fmt.success(issued), headers)


def create_app(broker: Broker, cors: CorsSettings | None = None) -> ASGIApp:
    """The ASGI app serving ``broker``, with CORS when ``cors`` names origins."""
    app = BrokerApp(broker)
    if cors is None or not cors.allow_origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=list(cors.allow_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "X-Api-Key", "Content-Type"],
        expose_headers=["Retry-After", "X-Request-Id", "X-Broker-Cache"],
        max_age=cors.max_age_seconds,
    )
