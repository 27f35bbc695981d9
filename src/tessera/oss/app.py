"""The OSS REST endpoint: address → route → authenticate → bucket → authorize → operate → send.

Owns: the request pipeline of spec oss.md 5 — addressing and routing (405 / 501 first), one
signature classification, authentication (AccessKey or STS token, ``identity.resolve``) before
any bucket lookup, time checks (15 minutes of skew, presigned expiry, the V4 region), signature
verification, the bucket lookup, authorization, running the operation, and the wire: every
response carries ``x-oss-request-id`` (24 hex), ``Date`` and ``Server``; errors are OSS XML
(``oss.errors``), HEAD and 304 carry it base64 in ``x-oss-err`` instead of a body; object bodies
stream from the blob store.
Must not: contain operation semantics (``bucket_ops`` / ``object_ops``) or decide policies
itself (``oss.access``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Hashable, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote_plus

from tessera.accesslog import AccessRecord
from tessera.asgi import Receive, Send, replay
from tessera.blobs import BlobReader
from tessera.clock import Clock
from tessera.errors import (
    IncompleteSignature,
    InvalidArgument,
    NotFound,
    NotSupported,
    SignatureMismatch,
    TesseraError,
)
from tessera.identity.model import Caller
from tessera.identity.resolve import Authenticator, PolicyResolver
from tessera.ids import random_hex
from tessera.signing import oss_common, oss_v1, oss_v2, oss_v4
from tessera.signing.memo import SignatureMemo
from tessera.signing.oss_common import AuthScheme

from .access import CopySource, Gate
from .addressing import Address, host_name, resolve
from .authz import RequestFacts, parse_copy_source
from .bucket_ops import BUCKET_OPERATIONS, Operation
from .errors import INTERNAL, OssError, error_header, error_xml, to_oss
from .exchange import OssContext, OssRequest, OssResponse, Prefetched, http_date, in_thread
from .multipart import MULTIPART_OPERATIONS
from .object_extra_ops import EXTRA_OPERATIONS
from .object_ops import OBJECT_OPERATIONS
from .routing import route
from .xml import MAX_XML_BYTES, parse_delete

__all__ = ["OPERATIONS", "OssApp", "parse_oss_query"]

Verify = Callable[[str], "str | None"]

log = logging.getLogger("tessera.oss")

OPERATIONS: dict[str, Operation] = {
    **BUCKET_OPERATIONS,
    **OBJECT_OPERATIONS,
    **MULTIPART_OPERATIONS,
    **EXTRA_OPERATIONS,
}
SERVER = "AliyunOSS"
_QUERY_SIGNATURE_NAMES = frozenset({"signature", "x-oss-signature", "ossaccesskeyid"})
#: presigned reads: apps reuse a presigned GET URL (an image, a download) until it expires, so
#: an identical request is verified once (``SignatureMemo``); a presigned PUT is used once
_PRESIGNED = frozenset({AuthScheme.V1_QUERY, AuthScheme.V2_QUERY, AuthScheme.V4_QUERY})
_REUSED_METHODS = frozenset({"GET", "HEAD"})
#: operations whose object row is read with the bucket (``OssRequest.prefetched``)
_PREFETCHING = frozenset({"GetObject", "HeadObject"})


#: a request's decoded query pairs, in order (a tuple: remembered answers are shared)
Query = tuple[tuple[str, str], ...]


def parse_oss_query(raw: bytes) -> Query:
    """``a=1&acl&b=%2B`` to decoded pairs. ``+`` is a space: oss2 (through requests) sends a
    space in ``prefix`` as ``+``, and every SDK sends a plus as ``%2B``."""
    try:
        pairs = []
        for piece in raw.decode("ascii").split("&"):  # a loop: 30% less than a generator
            if piece:
                name, _, value = piece.partition("=")
                pairs.append((_unquote(name), _unquote(value)))
        return tuple(pairs)
    except UnicodeError:
        raise InvalidArgument("Query", message="The query string is not valid UTF-8.") from None


@functools.lru_cache(maxsize=1024)
def _read_target(
    host: str, raw_path: str, raw_query: bytes, domains: tuple[str, ...]
) -> tuple[Query, Address | None]:
    """The decoded query and the address of a GET or HEAD, remembered (both are pure): a
    presigned URL is reused until it expires, and its query, a kilobyte and more with an STS
    token, is then decoded once. Writes are not remembered: their URLs are used once."""
    return parse_oss_query(raw_query), resolve(host, raw_path, domains)


#: ``oss_v4.parse_presigned`` of a presigned GET or HEAD, remembered (pure; its query is one
#: ``_read_target`` answer, so an equal tuple)
_read_presigned_v4 = functools.lru_cache(maxsize=1024)(oss_v4.parse_presigned)


def _unquote(text: str) -> str:
    if "%" not in text and "+" not in text:  # most names and many values: nothing to decode
        return text
    return _unquote_escaped(text)


@functools.lru_cache(maxsize=4096)  # a session's credential scope, say, comes again and again
def _unquote_escaped(text: str) -> str:
    return unquote_plus(text, errors="strict")


def _signature_parts(
    scheme: AuthScheme,
    method: str,
    address: Address,
    query: Query,
    headers: Mapping[str, str],
    region: str,
    raw_query: str | None = None,
) -> tuple[str, str, Verify, Callable[[float], None]]:
    """(AccessKeyId, provided signature, verify(secret), time check(now)) for the scheme;
    ``raw_query`` is the query string as sent (V4 signs it canonically encoded), or None to
    re-encode the decoded ``query``."""
    bucket, key = address.bucket, address.key
    if scheme is AuthScheme.V1_HEADER or scheme is AuthScheme.V1_QUERY:
        return _v1_parts(scheme, method, bucket, key, query, headers)
    if scheme is AuthScheme.V2_HEADER or scheme is AuthScheme.V2_QUERY:
        auth2 = (
            oss_v2.parse_authorization(headers["authorization"])
            if scheme is AuthScheme.V2_HEADER
            else oss_v2.parse_presigned(query)
        )

        def verify2(secret: str) -> str | None:
            return oss_v2.verify(
                method=method,
                bucket=bucket,
                key=key,
                query_pairs=query,
                headers=headers,
                auth=auth2,
                secret=secret,
            )

        return (
            auth2.access_key_id,
            auth2.signature,
            verify2,
            _expiry_or_skew(auth2.expires, headers),
        )
    return _v4_parts(scheme, method, address, query, headers, region, raw_query)


def _presigned_read(scheme: AuthScheme, req: OssRequest) -> Hashable | None:
    """For a presigned GET or HEAD, every input of its signature check but the secret (method,
    address, decoded query, headers) as the ``SignatureMemo`` key: strings and tuples of
    strings only, which the garbage collector stops tracking. ``None`` otherwise."""
    if scheme not in _PRESIGNED or req.method not in _REUSED_METHODS:
        return None
    address = req.address
    return (
        str(scheme),
        req.method,
        address.bucket,
        address.key,
        address.style,
        req.query,
        tuple(req.headers.items()),
    )


def _expiry_or_skew(expires: str, headers: Mapping[str, str]) -> Callable[[float], None]:
    """Presigned (``expires`` set): the expiry; header auth: 15 minutes of skew."""

    def check(now: float) -> None:
        if expires:
            oss_common.check_presigned_expiry(expires, now)
        else:
            oss_common.check_skew(oss_common.v1_request_time(headers), now)

    return check


def _v1_parts(
    scheme: AuthScheme,
    method: str,
    bucket: str | None,
    key: str | None,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
) -> tuple[str, str, Verify, Callable[[float], None]]:
    resource = oss_v1.canonical_resource(bucket, key, query)
    if scheme is AuthScheme.V1_HEADER:
        auth = oss_v1.parse_authorization(headers["authorization"])
        access_key_id, provided, expires = auth.access_key_id, auth.signature, ""
    else:
        presigned = oss_v1.parse_presigned(query)
        access_key_id, provided = presigned.access_key_id, presigned.signature
        expires = presigned.expires

    def verify(secret: str) -> str | None:
        date = expires or None
        return oss_v1.verify(method, headers, resource, secret, provided, date=date)

    return access_key_id, provided, verify, _expiry_or_skew(expires, headers)


def _v4_parts(
    scheme: AuthScheme,
    method: str,
    address: Address,
    query: Query,
    headers: Mapping[str, str],
    region: str,
    raw_query: str | None,
) -> tuple[str, str, Verify, Callable[[float], None]]:
    if scheme is AuthScheme.V4_HEADER:
        auth = oss_v4.parse_authorization(headers["authorization"])
    elif method in _REUSED_METHODS:
        auth = _read_presigned_v4(query)
    else:
        auth = oss_v4.parse_presigned(query)
    oss_common.check_region(auth.region, region)

    def verify(secret: str) -> str | None:
        return oss_v4.verify(
            method=method,
            bucket=address.bucket,
            key=address.key,
            query_pairs=query,
            headers=headers,
            auth=auth,
            secret=secret,
            raw_query=raw_query,
        )

    def check_time(now: float) -> None:
        if auth.request_time:
            signed_at = oss_common.parse_iso8601_basic(auth.request_time)
            oss_common.check_presigned_v4_expiry(signed_at, auth.expires, now)
            return
        stamp = headers.get("x-oss-date")
        if not stamp:
            raise IncompleteSignature("x-oss-date header is required for OSS4-HMAC-SHA256")
        oss_common.check_skew(oss_common.parse_iso8601_basic(stamp), now)

    return auth.access_key_id, auth.signature, verify, check_time


class OssApp:
    """Handles one OSS request end to end; see the module docstring for the order."""

    def __init__(
        self,
        ctx: OssContext,
        authenticator: Authenticator,
        policies: PolicyResolver,
        clock: Clock,
        host_id: str,
        domains: Sequence[str] = (),
        secure: bool = False,
    ) -> None:
        self._ctx = ctx
        self._authenticator = authenticator
        self._gate = Gate(ctx.store, policies)
        self._clock = clock
        self._host_id = host_id
        self._domains = tuple(domains)
        self._secure = secure
        self._verified = SignatureMemo()

    async def handle(
        self,
        scope: MutableMapping[str, Any],
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        record: AccessRecord,
    ) -> None:
        """Answer the request; never raises for a request's fault."""
        record.api = "oss"
        record.request_id = random_hex(12).upper()
        method = str(scope["method"]).upper()
        address: Address | None = None
        try:
            req = self._parse(scope, receive, headers)
            address = req.address
            response = await self._run(req, scope, record)
        except TesseraError as exc:
            error = to_oss(exc)
            if error.status == 500:  # the server's own failure (a full disk, say): the client
                # is told InternalError only, so the cause is logged for the operator (501 and
                # 503 answer the client's request: unsupported, throttled)
                log.error("request %s failed: %s", record.request_id, exc, exc_info=exc)
            response = self._failure(error, record, headers, address, method)
        except Exception:  # the single 500 boundary of the OSS API
            log.exception("unhandled error in request %s", record.request_id)
            response = self._failure(INTERNAL, record, headers, address, method)
        await self._send(send, response, record, head=method == "HEAD")

    def _parse(
        self, scope: MutableMapping[str, Any], receive: Receive, headers: dict[str, str]
    ) -> OssRequest:
        raw_path = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
        path = raw_path.decode("latin-1").partition("?")[0]
        raw_query = scope.get("query_string", b"")
        host = headers.get("host", "")
        method = str(scope["method"]).upper()
        if method in _REUSED_METHODS:
            query, address = _read_target(host, path, raw_query, self._domains)
        else:
            query, address = parse_oss_query(raw_query), resolve(host, path, self._domains)
        if address is None:  # ``/-/`` never reaches here; be safe anyway
            raise NotFound("Bucket", "-")
        names = {name for name, _ in query}
        found = route(method, address.target, names, copy_source="x-oss-copy-source" in headers)
        if found.operation not in OPERATIONS:
            raise NotSupported(found.operation)
        return OssRequest(
            method=method,
            headers=headers,
            query=query,
            params=dict(query),
            address=address,
            route=found,
            receive=receive,
            now=self._clock.now(),
            endpoint=self._endpoint(scope, headers, address),
            raw_query=raw_query.decode("latin-1"),
        )

    def _endpoint(
        self, scope: MutableMapping[str, Any], headers: Mapping[str, str], address: Address
    ) -> str:
        scheme = "https" if self._secure or scope.get("scheme") == "https" else "http"
        host = headers.get("host", self._host_id).strip()
        if address.style == "virtual" and address.bucket and host.startswith(address.bucket + "."):
            host = host[len(address.bucket) + 1 :]
        return f"{scheme}://{host}"

    async def _run(
        self, req: OssRequest, scope: MutableMapping[str, Any], record: AccessRecord
    ) -> OssResponse:
        record.action = req.route.action or req.route.operation
        req.caller = self._authenticate(req, record)
        operation = req.route.operation
        if req.address.bucket is not None and operation != "PutBucket":
            # point reads, inline; an object read gets its bucket and row in one statement
            if operation in _PREFETCHING and req.address.key is not None:
                req.bucket, meta, body = self._ctx.store.get_bucket_object(
                    req.address.bucket, req.address.key, body=operation == "GetObject"
                )
                req.prefetched = Prefetched(meta, body)
            else:
                req.bucket = self._ctx.store.get_bucket(req.address.bucket)
            if req.bucket is None:
                raise NotFound("Bucket", req.address.bucket)
        source, keys = await self._subjects(req)
        self._gate.check(req, self._facts(scope, req), record, source=source, keys=keys)
        return await OPERATIONS[operation](self._ctx, req)

    async def _subjects(self, req: OssRequest) -> tuple[CopySource | None, tuple[str, ...]]:
        """What a route asks about besides the addressed resource: the copy source (its bucket
        loaded, ``NoSuchBucket`` if absent) and the keys a DeleteMultipleObjects body names. The
        body is read here (XML-capped) and replayed to the operation."""
        source: CopySource | None = None
        keys: tuple[str, ...] = ()
        if req.route.source_action is not None:
            name, key = parse_copy_source(req.headers.get("x-oss-copy-source", ""))
            bucket = self._ctx.store.get_bucket(name)
            if bucket is None:
                raise NotFound("Bucket", name)
            source = CopySource(bucket, key)
        if req.route.per_key and req.route.operation == "DeleteMultipleObjects":
            body = await req.read_body(MAX_XML_BYTES)
            keys = parse_delete(body).keys
            req.receive = replay(body)
        return source, keys

    def _facts(self, scope: MutableMapping[str, Any], req: OssRequest) -> RequestFacts:
        client = scope.get("client") or ("", 0)
        return RequestFacts(
            source_ip=str(client[0]),
            secure_transport=self._secure or scope.get("scheme") == "https",
            now=req.now,
            user_agent=req.headers.get("user-agent"),
            referer=req.headers.get("referer"),
            access_key_id=req.caller.access_key_id if req.caller else None,
        )

    def _authenticate(self, req: OssRequest, record: AccessRecord) -> Caller | None:
        try:
            scheme = oss_common.classify(req.method, req.query, req.headers)
            if scheme is AuthScheme.ANONYMOUS:
                record.principal = "anonymous"
                return None
            if scheme is AuthScheme.POST_FORM:
                raise NotSupported("PostObject")
            access_key_id, provided, verify, check_time = _signature_parts(
                scheme,
                req.method,
                req.address,
                req.query,
                req.headers,
                self._ctx.region,
                req.raw_query,
            )
        except IncompleteSignature as exc:
            # OSS answers a malformed header "Authorization header is invalid." (oss.errors)
            query_names = {name.lower() for name, _ in req.query}
            exc.fields["in_header"] = "authorization" in req.headers and not (
                query_names & _QUERY_SIGNATURE_NAMES
            )
            raise
        record.access_key_id = access_key_id
        token = oss_common.security_token(scheme, req.query, req.headers)
        # inline, as on the RPC path: cached lookups; a worker-thread hop costs more than
        # the rare store read it would spare the event loop
        found = self._authenticator.authenticate(access_key_id, token, req.now)
        check_time(req.now)
        inputs = _presigned_read(scheme, req)
        if inputs is None or not self._verified.verified(inputs, found.secret):
            string_to_sign = verify(found.secret)
            if string_to_sign is not None:
                mismatch = SignatureMismatch(string_to_sign)
                mismatch.fields.update(access_key_id=access_key_id, signature=provided)
                raise mismatch
            if inputs is not None:
                self._verified.remember(inputs, found.secret)
        record.principal = found.caller.display
        return found.caller

    def _failure(
        self,
        error: OssError,
        record: AccessRecord,
        headers: Mapping[str, str],
        address: Address | None,
        method: str,
    ) -> OssResponse:
        record.error_code = error.code
        host_id = host_name(headers.get("host", "")) or self._host_id
        body = error_xml(
            error,
            record.request_id,
            host_id,
            bucket=address.bucket if address else None,
            key=address.key if address else None,
        )
        extra = [("Content-Type", "application/xml"), *error.headers.items()]
        if error.ec:
            extra.append(("x-oss-ec", error.ec))
        if error.status == 304:  # oss2 maps (304, no Code) to NotModified: no body, no x-oss-err
            return OssResponse(304, [], length=0)
        if method == "HEAD":
            extra.append(("x-oss-err", error_header(body)))
            return OssResponse(error.status, extra, length=0)
        return OssResponse(error.status, extra, body)

    async def _send(
        self, send: Send, response: OssResponse, record: AccessRecord, *, head: bool
    ) -> None:
        headers = [
            (b"x-oss-request-id", record.request_id.encode()),
            (b"date", http_date(self._clock.now()).encode()),
            (b"server", SERVER.encode()),
            (b"content-length", str(response.content_length).encode()),
        ]
        headers += [(k.lower().encode("latin-1"), _header_bytes(v)) for k, v in response.headers]
        record.status = response.status
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.stream is None or head:
            if response.stream is not None:
                response.stream.close()
            body = b"" if head or response.status == 304 else response.body
            await send({"type": "http.response.body", "body": body})
            return
        await _stream(send, response)


def _header_bytes(value: str) -> bytes:
    """Header values are latin-1 on the wire; anything else goes out as its UTF-8 bytes."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


STREAM_BATCH = 1 << 20


def _next_batch(reader: BlobReader, limit: int = STREAM_BATCH) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the reader and whether it is exhausted (then closed), in one
    worker-thread hop: a small object is read and its file closed in a single trip."""
    parts: list[bytes] = []
    size = 0
    for chunk in reader:
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            return b"".join(parts), False
    reader.close()
    return b"".join(parts), True


async def _stream(send: Send, response: OssResponse) -> None:
    reader = response.stream
    assert reader is not None
    done = False
    try:
        while not done:
            body, done = await in_thread(_next_batch, reader)
            await send({"type": "http.response.body", "body": body, "more_body": not done})
    finally:
        if not done:
            await in_thread(reader.close)
