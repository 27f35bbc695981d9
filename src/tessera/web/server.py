"""The one listener: ``/-/`` for Tessera itself, RPC (RAM/STS) by its parameters, OSS otherwise.

Owns: the top-level ASGI callable — request id, bounded body reading for RPC, the dispatch
rule of DESIGN.md (a request carrying ``Action`` in query or form, or ``x-acs-action``, is RPC;
anything else is OSS), the access-log line of every request, and the single 500 boundary.
Must not: authenticate, authorize or know any API's semantics.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tessera import __version__
from tessera.accesslog import AccessLog, AccessRecord
from tessera.asgi import Receive, Scope, Send, lifespan, replay
from tessera.errors import RequestTooLarge
from tessera.ids import request_id as rpc_request_id
from tessera.oss.app import OssApp
from tessera.rpc import render
from tessera.rpc.actions import RequestFacts
from tessera.rpc.app import RpcApp, RpcRequest, parse_form, parse_query
from tessera.rpc.errors import to_wire

log = logging.getLogger("tessera.web")

FORM_TYPE = "application/x-www-form-urlencoded"


def _header_map(scope: Scope) -> dict[str, str]:
    """Header names as ASGI gives them (lower case); repeated headers joined with commas."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes — up front when
    Content-Length says so. A request that announces no body is not read at all: most RPC
    clients send ``Content-Length: 0``, and skipping the read saves a trip into the server."""
    declared = headers.get("content-length")
    end: int | None = None  # the framed length: once all in, the end is not asked for
    if declared is not None:
        if declared.strip() == "0":
            return b""
        if declared.strip().isdigit():
            if int(declared) > limit:
                raise RequestTooLarge(limit)
            if "transfer-encoding" not in headers:
                end = int(declared)
    elif "transfer-encoding" not in headers:
        return b""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False) or size == end:
            break
    return b"".join(chunks)


def _names_action(raw_query: bytes) -> bool:
    """Whether the query string carries an ``Action`` parameter (the RPC marker)."""
    return raw_query.startswith(b"Action=") or b"&Action=" in raw_query


def health_app() -> Starlette:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    return Starlette(routes=[Route("/-/health", health, methods=["GET", "HEAD"])])


class TesseraApp:
    """The ASGI application served by ``tessera serve``."""

    def __init__(
        self,
        rpc: RpcApp,
        oss: OssApp,
        host_id: str,
        max_rpc_body: int,
        secure: bool,
        access_log: AccessLog | None = None,
    ) -> None:
        self._rpc = rpc
        self._oss = oss
        self.access_log = access_log or AccessLog(None)
        self._host_id = host_id
        self._max_rpc_body = max_rpc_body
        self._secure = secure
        self._own = health_app()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope.get("path", "/")
        if path.startswith("/-/"):
            await self._own(scope, receive, send)
            return
        # the API request, here rather than in a coroutine of its own (one per request)
        headers = _header_map(scope)
        client = scope.get("client") or ("", 0)
        # the request id is the API's to choose: OSS makes its own, RPC a UUID (set below)
        record = AccessRecord("", scope["method"], scope.get("path", "/"), client[0])
        try:
            raw_query: bytes = scope.get("query_string", b"")
            rpc_query = "x-acs-action" in headers or _names_action(raw_query)
            content_type = headers.get("content-type", "")
            # pop-core POSTs every parameter as a form to "/"; nothing else is read here
            form_candidate = (
                scope["method"] == "POST"
                and scope.get("path") == "/"
                and content_type.lower().startswith(FORM_TYPE)
            )
            if rpc_query or form_candidate:
                body = await read_body(receive, headers, self._max_rpc_body)
                form = parse_form(body, content_type)
                if rpc_query or any(name == "Action" for name, _ in form):
                    record.request_id = rpc_request_id()
                    query = parse_query(raw_query)
                    request = RpcRequest(
                        scope["method"],
                        scope.get("path", "/"),
                        query,
                        form,
                        headers,
                        body,
                        self._facts(scope, headers, client[0]),
                    )
                    status, content_type_b, payload = await self._rpc.handle(request, record)
                    await self._respond(send, status, content_type_b, payload, record)
                    return
                receive = replay(body)
            await self._oss.handle(scope, receive, send, headers, record)
            self.access_log.write(record)
        except Exception as exc:  # bad framing (oversized or undecodable body) or a bug
            record.request_id = record.request_id or rpc_request_id()
            if not hasattr(exc, "fields"):
                log.exception("unhandled error in request %s", record.request_id)
            wire = to_wire(exc)
            record.error_code = wire.code
            # the body could not be read, but Format=XML in the query is still honoured
            lenient = parse_qsl(
                scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
            )
            xml = RpcApp.wants_xml(dict(lenient), headers)
            content_type_b, payload = render.failure(
                wire, record.request_id, self._host_id, xml=xml
            )
            await self._respond(send, wire.status, content_type_b, payload, record)

    def _facts(self, scope: Scope, headers: dict[str, str], source_ip: str) -> RequestFacts:
        return RequestFacts(
            source_ip=source_ip,
            secure_transport=self._secure or scope.get("scheme") == "https",
            user_agent=headers.get("user-agent", ""),
            referer=headers.get("referer", ""),
        )

    async def _respond(
        self,
        send: Send,
        status: int,
        content_type: bytes,
        body: bytes,
        record: AccessRecord,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"x-acs-request-id", record.request_id.encode()),
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        record.status = status
        self.access_log.write(record)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
