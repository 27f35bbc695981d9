"""Object operations: PutObject, GetObject, HeadObject, GetObjectMeta, DeleteObject,
ListObjects and ListObjectsV2 (spec oss.md 7.1-7.4, 7.8, 8.1, 8.2).

Owns: streaming bodies in (``blobs.write_stream``: MD5 and CRC-64 on the way, Content-MD5
checked before the commit; bodies up to ``SMALL_BODY_BYTES`` go inline into the metadata
store's transaction instead of a blob file) and out (a blob range reader), ranges and
conditional headers, the object headers of GET/HEAD, and listing parameters. An overwrite
writes the new blob, swaps the row, then deletes the old blob.
Must not: authenticate, authorize or render errors (``oss.app`` does).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import mimetypes
from collections.abc import AsyncIterator, Callable, Mapping

from tessera.blobs import (
    BlobNotFound,
    BlobRef,
    Digest,
    StreamHasher,
    new_inline_blob_id,
    write_stream,
)
from tessera.clock import parse_iso8601
from tessera.errors import (
    AlreadyExists,
    DigestMismatch,
    InvalidArgument,
    InvalidRange,
    NotFound,
    NotModified,
    PreconditionFailed,
    TimestampInvalid,
    UserMetadataTooLarge,
)
from tessera.signing.oss_common import parse_http_date
from tessera.store.oss_base import ObjectAttrs, ObjectMeta

from .authz import parse_acl
from .bucket_ops import Operation, parse_max_keys
from .exchange import (
    SMALL_BODY_BYTES,
    OssContext,
    OssRequest,
    OssResponse,
    free_when_committed,
    http_date,
    in_thread,
    quoted,
    settle,
    xml_response,
)
from .xml import (
    STORAGE_CLASSES,
    ListObjectsPage,
    ListObjectsV2Page,
    ObjectEntry,
    Owner,
    iso8601_ms,
    list_objects_v2_xml,
    list_objects_xml,
)

__all__ = ["OBJECT_OPERATIONS", "parse_range"]

META_PREFIX = "x-oss-meta-"
#: bytes of all ``x-oss-meta-*`` header names and values together (OSS: "cannot exceed 8 KB")
USER_META_LIMIT = 8 * 1024
_STORED_HEADERS = (
    ("cache_control", "Cache-Control", "cache-control"),
    ("content_disposition", "Content-Disposition", "content-disposition"),
    ("content_encoding", "Content-Encoding", "content-encoding"),
    ("expires", "Expires", "expires"),
)
_OVERRIDES = (
    ("response-content-type", "Content-Type"),
    ("response-content-language", "Content-Language"),
    ("response-expires", "Expires"),
    ("response-cache-control", "Cache-Control"),
    ("response-content-disposition", "Content-Disposition"),
    ("response-content-encoding", "Content-Encoding"),
)


# ---- PutObject ---------------------------------------------------------------------------


def _content_md5(headers: Mapping[str, str]) -> str | None:
    text = headers.get("content-md5")
    if text is None:
        return None
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise DigestMismatch() from None
    if len(raw) != 16:
        raise DigestMismatch()
    return base64.b64encode(raw).decode("ascii")


def content_md5_check(headers: Mapping[str, str]) -> Callable[[Digest], None]:
    """The check a body's digest must pass before its blob is committed: ``InvalidDigest``
    now for a malformed ``Content-MD5``, ``check(digest)`` raises it for a different MD5."""
    expected = _content_md5(headers)

    def check(digest: Digest) -> None:
        if expected is not None and digest.md5_base64 != expected:
            raise DigestMismatch()

    return check


def _storage_class(headers: Mapping[str, str]) -> str:
    value = headers.get("x-oss-storage-class", "Standard").strip()
    if value not in STORAGE_CLASSES:
        raise InvalidArgument("x-oss-storage-class", message=f"Unsupported storage class {value}")
    return value


def content_type_of(key: str) -> str:
    """The Content-Type OSS gives an object stored without one: by the extension of the
    key's last segment, else ``application/octet-stream``. Only the extension counts: a key
    is a name, not a URL (``data:text/html,x`` has no extension)."""
    name = key.rpartition("/")[2]
    dot = name.find(".")
    return _type_of_extension(name[dot:] if dot >= 0 else "")


@functools.lru_cache(maxsize=1024)
def _type_of_extension(extension: str) -> str:
    if not extension:
        return "application/octet-stream"
    guessed = mimetypes.guess_type("object" + extension, strict=False)[0]
    return guessed or "application/octet-stream"


def _attrs(req: OssRequest) -> ObjectAttrs:
    headers = req.headers
    content_type = headers.get("content-type") or content_type_of(req.key)
    acl_header = headers.get("x-oss-object-acl")
    acl = (
        "default"
        if acl_header is None
        else parse_acl(acl_header, for_object=True, header="x-oss-object-acl").value
    )
    meta = tuple((k, v) for k, v in headers.items() if k.startswith(META_PREFIX))
    if meta:
        size = sum(len(name) + len(value) for name, value in meta)  # header text is latin-1
        if size > USER_META_LIMIT:
            raise UserMetadataTooLarge(size, USER_META_LIMIT)
    return ObjectAttrs(  # the _STORED_HEADERS by name: a dict built to unpack cost 1 µs
        content_type=content_type,
        acl=acl,
        storage_class=_storage_class(headers),
        user_meta=meta,
        cache_control=headers.get("cache-control"),
        content_disposition=headers.get("content-disposition"),
        content_encoding=headers.get("content-encoding"),
        expires=headers.get("expires"),
    )


def _forbid_overwrite(headers: Mapping[str, str]) -> bool:
    return headers.get("x-oss-forbid-overwrite", "").strip().lower() == "true"


async def put_object(ctx: OssContext, req: OssRequest) -> OssResponse:
    req.require_length()
    attrs = _attrs(req)
    check = content_md5_check(req.headers)
    if_absent = _forbid_overwrite(req.headers)
    if if_absent and ctx.store.get_object(req.bucket_name, req.key) is not None:
        raise AlreadyExists("Object", req.key)

    def describe(ref: BlobRef) -> ObjectMeta:
        return ObjectMeta(
            bucket=req.bucket_name,
            key=req.key,
            blob_id=ref.blob_id,
            size=ref.size,
            etag=ref.md5_hex or "",
            crc64=ref.crc64,
            last_modified=iso8601_ms(req.now),
            attrs=attrs,
        )

    declared = req.declared_length()
    if declared is not None and declared <= SMALL_BODY_BYTES:  # _small_body's usual answer,
        body: bytes | AsyncIterator[bytes] = await req.read_body(SMALL_BODY_BYTES)  # inline
    else:
        body = await _small_body(req)
    if isinstance(body, bytes):
        # small: the body goes inline beside the row, in one group-committed transaction;
        # the loop awaits the commit itself (no worker thread, no blob file)
        hasher = StreamHasher()
        hasher.update(body)
        digest = hasher.digest()
        check(digest)
        meta = describe(BlobRef.from_digest(new_inline_blob_id(), digest))
        pending = ctx.store.submit_put_object(meta, if_absent=if_absent, body=body)
        try:
            released = await pending
        except asyncio.CancelledError:  # the write commits still: free what it releases
            free_when_committed(ctx.blobs, pending)
            raise
        if released:  # an overwritten blob file (an inline body went with its row)
            await in_thread(ctx.blobs.delete, released)
    else:
        ref = await write_stream(ctx.blobs, body, check=check)
        meta = describe(ref)
        written = meta
        await settle(
            ctx.blobs,
            lambda: ctx.store.put_object(written, if_absent=if_absent),
            lambda released: [released],
            adds=ref.blob_id,
        )
    headers = [
        ("ETag", quoted(meta.etag)),
        ("x-oss-hash-crc64ecma", str(meta.crc64)),
        ("Content-MD5", _md5_base64(meta.etag)),
    ]
    return OssResponse(200, headers)


async def _small_body(req: OssRequest) -> bytes | AsyncIterator[bytes]:
    """The whole body if it is at most ``SMALL_BODY_BYTES`` (kept inline), else the body to
    stream. A Content-Length decides before reading; a chunked body of unknown size (oss2
    sends an empty body so, and tools create 0-byte "directory" objects) is read up to the
    bound, and what was read leads the stream when the body goes beyond it."""
    declared = req.declared_length()
    if declared is not None:
        if declared <= SMALL_BODY_BYTES:
            return await req.read_body(SMALL_BODY_BYTES)
        return req.body_chunks()
    chunks = req.body_chunks()
    read: list[bytes] = []
    size = 0
    async for chunk in chunks:
        read.append(chunk)
        size += len(chunk)
        if size > SMALL_BODY_BYTES:
            return _prepended(read, chunks)
    return b"".join(read)


async def _prepended(first: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in first:
        yield chunk
    async for chunk in rest:
        yield chunk


def _md5_base64(etag_hex: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(etag_hex)).decode("ascii")
    except ValueError:
        return ""


# ---- GetObject / HeadObject --------------------------------------------------------------


def _load(ctx: OssContext, req: OssRequest) -> ObjectMeta:
    meta = ctx.store.get_object(req.bucket_name, req.key)  # a point read: inline
    if meta is None:
        raise NotFound("Object", req.key)
    return meta


def _date_header(headers: Mapping[str, str], name: str) -> float | None:
    text = headers.get(name)
    if not text:
        return None
    try:
        return parse_http_date(text)
    except TimestampInvalid:
        return None  # an unparsable date is ignored, as HTTP says


def _etags(text: str) -> set[str]:
    return {part.strip().strip('"').upper() for part in text.split(",")}


def check_conditions(headers: Mapping[str, str], etag: str, modified: float) -> None:
    """If-Match / If-Unmodified-Since → 412; If-None-Match / If-Modified-Since → 304."""
    etag = etag.upper()
    if_match = headers.get("if-match")
    if if_match is not None and not ({etag, "*"} & _etags(if_match)):
        raise PreconditionFailed("If-Match")
    since = _date_header(headers, "if-unmodified-since")
    if since is not None and int(modified) > since:
        raise PreconditionFailed("If-Unmodified-Since")
    if_none = headers.get("if-none-match")
    if if_none is not None and {etag, "*"} & _etags(if_none):
        raise NotModified()
    since = _date_header(headers, "if-modified-since")
    if since is not None and if_none is None and int(modified) <= since:
        raise NotModified()


def _digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def _bounds(spec: str, size: int, standard: bool) -> tuple[int, int] | None:
    first, dash, last = spec.strip().partition("-")
    if not dash or not (_digits(first) or _digits(last)):
        return None
    if (first and not _digits(first)) or (last and not _digits(last)):
        return None
    if not first:  # suffix: the last N bytes
        count = int(last)
        return (max(size - count, 0), size - 1) if count and size else None
    start = int(first)
    end = int(last) if last else size - 1
    if end < start:
        return None
    if end >= size:
        if not standard and last:
            return None
        end = size - 1
    return (start, end) if start < size else None


def parse_range(header: str | None, size: int, *, standard: bool) -> tuple[int, int] | None:
    """The inclusive byte range to send, or None for the whole object (spec 7.2): invalid or
    unsatisfiable ranges are ignored, unless ``standard`` where a start past the end is 416."""
    if header is None:
        return None
    unit, eq, specs = header.strip().partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    spec = specs.split(",")[0]
    found = _bounds(spec, size, standard)
    if found is None and standard and _starts_past_end(spec, size):
        raise InvalidRange(header, size)
    return found


def _starts_past_end(spec: str, size: int) -> bool:
    first = spec.strip().partition("-")[0]
    return _digits(first) and int(first) >= size


def object_headers(meta: ObjectMeta, params: Mapping[str, str]) -> list[tuple[str, str]]:
    """The object's response headers, with the request's ``response-*`` overrides."""
    overrides = tuple((name, params[param]) for param, name in _OVERRIDES if param in params)
    return list(_object_headers(meta, overrides))


@functools.lru_cache(maxsize=1024)
def _object_headers(
    meta: ObjectMeta, overrides: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """``object_headers``, pure and remembered: a hot object's version is read again and
    again (the metadata store answers it from memory, the same record each time)."""
    attrs = meta.attrs
    values: dict[str, str] = {"Content-Type": attrs.content_type}
    for attr, name, _ in _STORED_HEADERS:
        value = getattr(attrs, attr)
        if value is not None:
            values[name] = value
    values.update(overrides)
    headers = list(values.items())
    headers += [
        ("ETag", quoted(meta.etag)),
        ("Last-Modified", http_date(parse_iso8601(meta.last_modified))),
        ("Accept-Ranges", "bytes"),
        ("x-oss-object-type", meta.object_type.value),
        ("x-oss-storage-class", attrs.storage_class),
        ("x-oss-hash-crc64ecma", str(meta.crc64)),
    ]
    if meta.object_type.value == "Normal":
        headers.append(("Content-MD5", _md5_base64(meta.etag)))
    if meta.next_append_position is not None:
        headers.append(("x-oss-next-append-position", str(meta.next_append_position)))
    headers += list(attrs.user_meta)
    return tuple(headers)


async def _read(ctx: OssContext, req: OssRequest, *, body: bool) -> OssResponse:
    try:
        return await _read_once(ctx, req, body=body)
    except BlobNotFound:
        # the row was read, then an overwrite or a delete removed its blob file: read the row
        # again (the new version); twice in a row, the object is going away
        try:
            return await _read_once(ctx, req, body=body)
        except BlobNotFound:
            raise NotFound("Object", req.key) from None


async def _read_once(ctx: OssContext, req: OssRequest, *, body: bool) -> OssResponse:
    inline: bytes | None = None
    known = req.take_prefetched()  # read with the bucket, the first time
    if known is not None:
        if known.meta is None:
            raise NotFound("Object", req.key)
        meta, inline = known.meta, known.body
    elif body:  # a point read (inline): the row and, for a small object, its body
        found = ctx.store.get_object_body(req.bucket_name, req.key)
        if found is None:
            raise NotFound("Object", req.key)
        meta, inline = found
    else:
        meta = _load(ctx, req)
    check_conditions(req.headers, meta.etag, parse_iso8601(meta.last_modified))
    standard = req.headers.get("x-oss-range-behavior", "").strip().lower() == "standard"
    span = parse_range(req.headers.get("range"), meta.size, standard=standard)
    params = req.params if req.method == "GET" else {}
    headers = object_headers(meta, params)
    start, end = span if span is not None else (0, meta.size - 1)
    status = 200
    if span is not None:
        status = 206
        headers.append(("Content-Range", f"bytes {start}-{end}/{meta.size}"))
    length = end - start + 1
    if not body:
        return OssResponse(status, headers, length=length)
    if inline is not None:
        return OssResponse(status, headers, inline[start : end + 1])
    if length <= SMALL_BODY_BYTES:  # a page-cache read: inline, no hop, no stream
        return OssResponse(status, headers, _read_small(ctx, meta.blob_id, start, end + 1))
    reader = await in_thread(ctx.blobs.open_range, meta.blob_id, start, end + 1)
    return OssResponse(status, headers, stream=reader)


def _read_small(ctx: OssContext, blob_id: str, start: int, stop: int) -> bytes:
    reader = ctx.blobs.open_range(blob_id, start, stop)
    try:
        return b"".join(reader)
    finally:
        reader.close()


async def get_object(ctx: OssContext, req: OssRequest) -> OssResponse:
    return await _read(ctx, req, body=True)


async def head_object(ctx: OssContext, req: OssRequest) -> OssResponse:
    return await _read(ctx, req, body=False)


async def get_object_meta(ctx: OssContext, req: OssRequest) -> OssResponse:
    meta = _load(ctx, req)
    headers = [
        ("ETag", quoted(meta.etag)),
        ("Last-Modified", http_date(parse_iso8601(meta.last_modified))),
        ("x-oss-hash-crc64ecma", str(meta.crc64)),
    ]
    return OssResponse(200, headers, length=meta.size)


async def delete_object(ctx: OssContext, req: OssRequest) -> OssResponse:
    await settle(
        ctx.blobs,
        lambda: ctx.store.delete_object(req.bucket_name, req.key),
        lambda released: [released],
    )
    return OssResponse(204)


# ---- listing -----------------------------------------------------------------------------


def _entry(meta: ObjectMeta, owner: Owner) -> ObjectEntry:
    return ObjectEntry(
        key=meta.key,
        last_modified=parse_iso8601(meta.last_modified),
        etag=meta.etag,
        size=meta.size,
        object_type=meta.object_type.value,
        storage_class=meta.attrs.storage_class,
        owner=owner,
    )


def _url_encoding(params: Mapping[str, str]) -> bool:
    value = params.get("encoding-type")
    if value is None or value == "":
        return False
    if value.lower() != "url":
        raise InvalidArgument("encoding-type", message="encoding-type must be url.")
    return True


async def _page(
    ctx: OssContext, req: OssRequest, marker: str, max_keys: int
) -> tuple[list[ObjectEntry], tuple[str, ...], bool, str]:
    prefix, delimiter = req.params.get("prefix", ""), req.params.get("delimiter", "")
    page = await in_thread(
        lambda: ctx.store.list_objects(
            req.bucket_name, prefix=prefix, delimiter=delimiter, marker=marker, max_keys=max_keys
        )
    )
    owner = req.owner()
    entries = [_entry(meta, owner) for meta in page.items]
    return entries, page.common_prefixes, page.is_truncated, page.next_marker


async def list_objects(ctx: OssContext, req: OssRequest) -> OssResponse:
    params = req.params
    url = _url_encoding(params)
    max_keys = parse_max_keys(params)
    marker = params.get("marker", "")
    entries, prefixes, truncated, next_marker = await _page(ctx, req, marker, max_keys)
    page = ListObjectsPage(
        name=req.bucket_name,
        prefix=params.get("prefix", ""),
        marker=marker,
        max_keys=max_keys,
        delimiter=params.get("delimiter", ""),
        is_truncated=truncated,
        next_marker=next_marker,
        objects=entries,
        common_prefixes=prefixes,
        encoding_url=url,
    )
    return xml_response(list_objects_xml(page))


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode(
            "utf-8"
        )
    except (UnicodeError, binascii.Error, ValueError):
        raise InvalidArgument(
            "continuation-token", message="The continuation token provided is incorrect."
        ) from None


async def list_objects_v2(ctx: OssContext, req: OssRequest) -> OssResponse:
    params = req.params
    url = _url_encoding(params)
    max_keys = parse_max_keys(params)
    token = params.get("continuation-token") or None
    start_after = params.get("start-after") or None
    marker = decode_token(token) if token is not None else (start_after or "")
    entries, prefixes, truncated, next_marker = await _page(ctx, req, marker, max_keys)
    page = ListObjectsV2Page(
        name=req.bucket_name,
        prefix=params.get("prefix", ""),
        start_after=start_after,
        continuation_token=token,
        max_keys=max_keys,
        delimiter=params.get("delimiter", ""),
        is_truncated=truncated,
        next_continuation_token=encode_token(next_marker) if truncated else "",
        objects=entries,
        common_prefixes=prefixes,
        fetch_owner=params.get("fetch-owner", "").lower() == "true",
        encoding_url=url,
    )
    return xml_response(list_objects_v2_xml(page))


OBJECT_OPERATIONS: dict[str, Operation] = {
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": head_object,
    "GetObjectMeta": get_object_meta,
    "DeleteObject": delete_object,
    "ListObjects": list_objects,
    "ListObjectsV2": list_objects_v2,
}
