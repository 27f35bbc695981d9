"""Further object operations: CopyObject, AppendObject, DeleteMultipleObjects, ACLs, policy.

Owns: these operations' request parsing, store/blob calls and responses; registered in
``EXTRA_OPERATIONS`` and looked up by ``oss.app`` through the route's operation name.
Must not: authenticate or authorize (``oss.app`` has done both before an operation runs).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Mapping

from tessera.blobs import BlobError, BlobRef, write_stream
from tessera.clock import parse_iso8601
from tessera.errors import (
    AlreadyExists,
    AppendPositionMismatch,
    DigestMismatch,
    InvalidArgument,
    MalformedPolicy,
    MissingArgument,
    NotAppendable,
    NotFound,
    PreconditionFailed,
)
from tessera.policy import parse_policy
from tessera.store.oss_base import ObjectAttrs, ObjectChanged, ObjectMeta, ObjectType

from .authz import parse_acl, parse_copy_source
from .bucket_ops import Operation
from .exchange import (
    MAX_OBJECT_BYTES,
    OssContext,
    OssRequest,
    OssResponse,
    in_thread,
    quoted,
    settle,
    xml_response,
)
from .object_ops import (
    _attrs,
    _content_md5,
    _forbid_overwrite,
    _storage_class,
    check_conditions,
    content_md5_check,
)
from .xml import (
    MAX_XML_BYTES,
    access_control_policy_xml,
    copy_object_xml,
    delete_result_xml,
    iso8601_ms,
    parse_delete,
)

__all__ = ["EXTRA_OPERATIONS", "MAX_POLICY_BYTES"]

#: The largest bucket policy document accepted (OSS documents 16 KB).
MAX_POLICY_BYTES = 16 * 1024


# ---- DeleteMultipleObjects ---------------------------------------------------------------


def _url_encoding(params: Mapping[str, str]) -> bool:
    value = params.get("encoding-type")
    if not value:
        return False
    if value.lower() != "url":
        raise InvalidArgument("encoding-type", message="encoding-type must be url.")
    return True


async def delete_multiple_objects(ctx: OssContext, req: OssRequest) -> OssResponse:
    """``POST /?delete`` (spec 7.4): Content-MD5 is required and must match the body."""
    url = _url_encoding(req.params)
    expected = _content_md5(req.headers)
    if expected is None:
        raise MissingArgument("Content-MD5", message="Missing required header: Content-MD5.")
    body = await req.read_body(MAX_XML_BYTES)
    if _md5_base64(body) != expected:
        raise DigestMismatch()
    request = parse_delete(body)
    keys = list(dict.fromkeys(request.keys))
    await settle(
        ctx.blobs, lambda: ctx.store.delete_objects(req.bucket_name, keys), lambda freed: freed
    )
    deleted = [] if request.quiet else keys
    return xml_response(delete_result_xml(deleted, encoding_url=url))


def _md5_base64(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode("ascii")


# ---- object ACL --------------------------------------------------------------------------


async def put_object_acl(ctx: OssContext, req: OssRequest) -> OssResponse:
    text = req.headers.get("x-oss-object-acl")
    if text is None:
        raise MissingArgument("x-oss-object-acl")
    acl = parse_acl(text, for_object=True, header="x-oss-object-acl")
    await in_thread(ctx.store.put_object_acl, req.bucket_name, req.key, acl.value)
    return OssResponse(200)


async def get_object_acl(ctx: OssContext, req: OssRequest) -> OssResponse:
    meta = await in_thread(ctx.store.get_object, req.bucket_name, req.key)
    if meta is None:
        raise NotFound("Object", req.key)
    return xml_response(access_control_policy_xml(req.owner(), meta.attrs.acl))


# ---- bucket policy -----------------------------------------------------------------------


async def put_bucket_policy(ctx: OssContext, req: OssRequest) -> OssResponse:
    """The JSON document is parsed strictly as a resource policy and stored as submitted."""
    body = await req.read_body(MAX_POLICY_BYTES)
    try:
        text = body.decode("utf-8")
    except UnicodeError:
        raise MalformedPolicy("The policy document is not valid UTF-8.") from None
    if not text.strip():
        raise MalformedPolicy("The policy document is empty.")
    parse_policy(text, kind="resource")
    await in_thread(ctx.store.put_bucket_policy, req.bucket_name, text)
    return OssResponse(200)


async def get_bucket_policy(ctx: OssContext, req: OssRequest) -> OssResponse:
    text = await in_thread(ctx.store.get_bucket_policy, req.bucket_name)
    if text is None:
        raise NotFound("BucketPolicy", req.bucket_name)
    return OssResponse(200, [("Content-Type", "application/json")], text.encode("utf-8"))


async def delete_bucket_policy(ctx: OssContext, req: OssRequest) -> OssResponse:
    text = await in_thread(ctx.store.get_bucket_policy, req.bucket_name)
    if text is None:
        raise NotFound("BucketPolicy", req.bucket_name)
    await in_thread(ctx.store.delete_bucket_policy, req.bucket_name)
    return OssResponse(204)


# ---- CopyObject --------------------------------------------------------------------------

_COPY_CONDITIONS = (
    ("x-oss-copy-source-if-match", "if-match"),
    ("x-oss-copy-source-if-none-match", "if-none-match"),
    ("x-oss-copy-source-if-unmodified-since", "if-unmodified-since"),
    ("x-oss-copy-source-if-modified-since", "if-modified-since"),
)


def _check_copy_conditions(headers: Mapping[str, str], meta: ObjectMeta) -> None:
    """The copy-source conditions: failed match / unmodified-since → 412 PreconditionFailed
    naming the header; none-match / modified-since that hold → 304 (spec 7.5)."""
    mapped = {plain: headers[name] for name, plain in _COPY_CONDITIONS if name in headers}
    try:
        check_conditions(mapped, meta.etag, parse_iso8601(meta.last_modified))
    except PreconditionFailed as failed:
        raise PreconditionFailed("x-oss-copy-source-" + failed.condition.lower()) from None


def _copy_attrs(req: OssRequest, source: ObjectMeta) -> ObjectAttrs:
    directive = req.headers.get("x-oss-metadata-directive", "COPY").strip().upper()
    if directive == "REPLACE":
        return _attrs(req)
    if directive != "COPY":
        raise InvalidArgument(
            "x-oss-metadata-directive", message="x-oss-metadata-directive must be COPY or REPLACE."
        )
    acl = parse_acl(
        req.headers.get("x-oss-object-acl", "default"),
        for_object=True,
        header="x-oss-object-acl",
    )
    storage = (
        _storage_class(req.headers)
        if "x-oss-storage-class" in req.headers
        else source.attrs.storage_class
    )
    return ObjectAttrs(
        content_type=source.attrs.content_type,
        acl=acl.value,
        storage_class=storage,
        user_meta=source.attrs.user_meta,
        cache_control=source.attrs.cache_control,
        content_disposition=source.attrs.content_disposition,
        content_encoding=source.attrs.content_encoding,
        expires=source.attrs.expires,
    )


async def _blob_chunks(
    ctx: OssContext, meta: ObjectMeta, start: int = 0, end: int | None = None
) -> AsyncIterator[bytes]:
    """The source object's bytes ``[start, end)``, read in worker threads."""
    try:
        reader = await in_thread(ctx.blobs.open_range, meta.blob_id, start, end)
    except BlobError:  # replaced or deleted since it was looked up
        raise NotFound("Object", meta.key) from None
    try:
        while True:
            chunk = await in_thread(next, reader, None)
            if chunk is None:
                return
            yield chunk
    finally:
        await in_thread(reader.close)


async def copy_object(ctx: OssContext, req: OssRequest) -> OssResponse:
    """``PUT`` with ``x-oss-copy-source``: the bytes are copied into a new blob (never shared)."""
    src_bucket, src_key = parse_copy_source(req.headers.get("x-oss-copy-source", ""))
    source = await in_thread(ctx.store.get_object, src_bucket, src_key)
    if source is None:
        raise NotFound("Object", src_key)
    _check_copy_conditions(req.headers, source)
    attrs = _copy_attrs(req, source)
    if_absent = _forbid_overwrite(req.headers)
    if if_absent:
        current = await in_thread(ctx.store.get_object, req.bucket_name, req.key)
        if current is not None:
            raise AlreadyExists("Object", req.key)
    ref = await write_stream(ctx.blobs, _blob_chunks(ctx, source))
    meta = ObjectMeta(
        bucket=req.bucket_name,
        key=req.key,
        blob_id=ref.blob_id,
        size=ref.size,
        etag=ref.md5_hex or source.etag,
        crc64=ref.crc64,
        last_modified=iso8601_ms(req.now),
        attrs=attrs,
    )
    await _commit(ctx, meta, if_absent=if_absent)
    headers = [
        ("Content-Type", "application/xml"),
        ("ETag", quoted(meta.etag)),
        ("x-oss-hash-crc64ecma", str(meta.crc64)),
    ]
    return OssResponse(200, headers, copy_object_xml(meta.etag, req.now))


async def _commit(
    ctx: OssContext, meta: ObjectMeta, *, if_absent: bool = False, expect: str | None = None
) -> None:
    """Swap the row to ``meta`` (its blob is new), then delete the blob it released; on any
    failure the new blob is deleted instead (``settle``)."""
    await settle(
        ctx.blobs,
        lambda: ctx.store.put_object(meta, if_absent=if_absent, expect_blob_id=expect),
        lambda released: [released],
        adds=meta.blob_id,
    )


# ---- AppendObject ------------------------------------------------------------------------


def _position(params: Mapping[str, str]) -> int:
    text = params.get("position")
    if text is None or text == "":
        raise MissingArgument("position")
    if not text.isascii() or not text.isdigit():
        raise InvalidArgument("position", message="position must be a non-negative integer.")
    return int(text)


def _append_etag(previous: str, added: str) -> str:
    """An appendable object's ETag is not its content MD5: derive a new one per append."""
    return hashlib.md5(f"{previous}:{added}".encode(), usedforsecurity=False).hexdigest().upper()


def _mismatch(current: ObjectMeta | None) -> Exception:
    if current is not None and current.object_type is not ObjectType.APPENDABLE:
        return NotAppendable()
    return AppendPositionMismatch(current.size if current is not None else 0)


async def append_object(ctx: OssContext, req: OssRequest) -> OssResponse:
    """``POST /<key>?append&position=N`` (spec 7.6): N must be the current length; the blob is
    the old one composed with the new bytes, committed only if the object did not change."""
    req.require_length()
    position = _position(req.params)
    current = await in_thread(ctx.store.get_object, req.bucket_name, req.key)
    if current is not None and current.object_type is not ObjectType.APPENDABLE:
        raise NotAppendable()
    length = current.size if current is not None else 0
    if position != length:
        raise AppendPositionMismatch(length)
    attrs = current.attrs if current is not None else _attrs(req)
    check = content_md5_check(req.headers)

    added = await write_stream(ctx.blobs, req.body_chunks(MAX_OBJECT_BYTES - position), check=check)
    ref = added
    etag = added.md5_hex or ""
    if current is not None:
        old = BlobRef(current.blob_id, current.size, None, current.crc64)
        try:
            ref = await in_thread(ctx.blobs.compose, [old, added])
        except BlobError:  # the old blob went away: the object changed under us
            latest = await in_thread(ctx.store.get_object, req.bucket_name, req.key)
            raise _mismatch(latest) from None
        finally:
            await in_thread(ctx.blobs.delete, added.blob_id)
        etag = _append_etag(current.etag, added.md5_hex or "")
    meta = ObjectMeta(
        bucket=req.bucket_name,
        key=req.key,
        blob_id=ref.blob_id,
        size=ref.size,
        etag=etag,
        crc64=ref.crc64,
        last_modified=iso8601_ms(req.now),
        object_type=ObjectType.APPENDABLE,
        attrs=attrs,
    )
    try:
        await _commit(
            ctx,
            meta,
            if_absent=current is None,
            expect=current.blob_id if current is not None else None,
        )
    except ObjectChanged as changed:
        raise _mismatch(changed.current) from None
    except AlreadyExists:
        latest = await in_thread(ctx.store.get_object, req.bucket_name, req.key)
        raise _mismatch(latest) from None
    headers = [
        ("ETag", quoted(meta.etag)),
        ("x-oss-next-append-position", str(meta.size)),
        ("x-oss-hash-crc64ecma", str(meta.crc64)),
    ]
    return OssResponse(200, headers)


EXTRA_OPERATIONS: dict[str, Operation] = {
    "DeleteMultipleObjects": delete_multiple_objects,
    "PutObjectACL": put_object_acl,
    "GetObjectACL": get_object_acl,
    "PutBucketPolicy": put_bucket_policy,
    "GetBucketPolicy": get_bucket_policy,
    "DeleteBucketPolicy": delete_bucket_policy,
    "CopyObject": copy_object,
    "AppendObject": append_object,
}
