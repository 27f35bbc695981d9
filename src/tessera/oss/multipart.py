"""Multipart upload: Initiate, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
ListMultipartUploads (spec oss.md 9).

Owns: these operations' request parsing, store/blob calls and responses; registered in
``MULTIPART_OPERATIONS`` and looked up by ``oss.app`` through the route's operation name.
Parts stream into their own blobs (``blobs.write_stream``); completion composes the chosen part
blobs into one new blob in a worker thread (CRC-64 from the parts' CRCs), swaps the rows in one
store transaction, then deletes the blobs nothing references any more (the replaced object's and
the parts'), as DESIGN.md orders: new blob first, swap the row, then delete the old blobs.
Must not: authenticate or authorize (``oss.app`` has done both before an operation runs).
UploadPartCopy reads the (gate-authorized) copy source's bytes, or one range of them, into the
part's own new blob; source and part never share a blob.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import quote

from tessera.blobs import BlobError, BlobRef, multipart_etag, write_stream
from tessera.clock import parse_iso8601
from tessera.errors import (
    AlreadyExists,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    MalformedXML,
    NotFound,
)
from tessera.store.oss_base import MultipartUpload, ObjectMeta, ObjectType, Part

from .authz import parse_copy_source
from .bucket_ops import Operation, parse_max_keys
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
from .object_extra_ops import _blob_chunks, _check_copy_conditions
from .object_ops import (
    _attrs,
    _forbid_overwrite,
    _url_encoding,
    content_md5_check,
    parse_range,
)
from .xml import (
    MAX_XML_BYTES,
    MultipartUploadEntry,
    MultipartUploadsPage,
    PartEntry,
    PartsPage,
    complete_multipart_upload_xml,
    copy_part_xml,
    initiate_multipart_upload_xml,
    iso8601_ms,
    list_multipart_uploads_xml,
    list_parts_xml,
    parse_complete_multipart_upload,
)

__all__ = ["MAX_PART_NUMBER", "MIN_PART_SIZE", "MULTIPART_OPERATIONS"]

MAX_PART_NUMBER = 10000
MIN_PART_SIZE = 100 * 1024  # every part but the last (spec 9)
MAX_PART_BYTES = MAX_OBJECT_BYTES
_MAX_LIST_PARTS = 1000
_PART_NUMBER_MESSAGE = "Part number must be an integer between 1 and 10000, inclusive."


# ---- helpers -----------------------------------------------------------------------------


def _upload_id(params: Mapping[str, str]) -> str:
    return params.get("uploadId", "")


async def _load_upload(ctx: OssContext, req: OssRequest) -> MultipartUpload:
    upload_id = _upload_id(req.params)
    upload = await in_thread(ctx.store.get_upload, req.bucket_name, req.key, upload_id)
    if upload is None:
        raise NotFound("Upload", upload_id)
    return upload


def _part_number(params: Mapping[str, str]) -> int:
    text = params.get("partNumber", "")
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PART_NUMBER:
        return int(text)
    error = InvalidArgument("PartNumber", message=_PART_NUMBER_MESSAGE)
    error.fields["value"] = text
    raise error


def _int_param(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    text = params.get(name, "")
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) > maximum:
        error = InvalidArgument(name, message=f"{name} must be an integer between 0 and {maximum}.")
        error.fields["value"] = text
        raise error
    return int(text)


async def _all_parts(ctx: OssContext, req: OssRequest, upload_id: str) -> dict[int, Part]:
    page = await in_thread(
        lambda: ctx.store.list_parts(req.bucket_name, req.key, upload_id, max_parts=MAX_PART_NUMBER)
    )
    return {part.part_number: part for part in page.parts}


def _location(req: OssRequest) -> str:
    path = quote(req.key, safe="/")
    if req.address.style != "virtual":
        return f"{req.endpoint}/{req.bucket_name}/{path}"
    scheme, _, host = req.endpoint.partition("://")
    return f"{scheme}://{req.bucket_name}.{host}/{path}"


# ---- Initiate ----------------------------------------------------------------------------


async def initiate_multipart_upload(ctx: OssContext, req: OssRequest) -> OssResponse:
    url = _url_encoding(req.params)
    attrs = _attrs(req)
    if _forbid_overwrite(req.headers):
        current = await in_thread(ctx.store.get_object, req.bucket_name, req.key)
        if current is not None:
            raise AlreadyExists("Object", req.key)
    owner = req.owner()
    upload = MultipartUpload(
        bucket=req.bucket_name,
        key=req.key,
        upload_id=secrets.token_hex(16).upper(),
        initiated=iso8601_ms(req.now),
        owner_account_id=owner.id,
        attrs=attrs,
    )
    await in_thread(ctx.store.create_upload, upload)
    body = initiate_multipart_upload_xml(
        req.bucket_name, req.key, upload.upload_id, encoding_url=url
    )
    return xml_response(body)


# ---- UploadPart --------------------------------------------------------------------------


async def upload_part(ctx: OssContext, req: OssRequest) -> OssResponse:
    req.require_length()
    number = _part_number(req.params)
    check = content_md5_check(req.headers)
    upload = await _load_upload(ctx, req)

    ref = await write_stream(ctx.blobs, req.body_chunks(MAX_PART_BYTES), check=check)
    part = await _store_part(ctx, req, upload, number, ref)
    headers = [("ETag", quoted(part.etag)), ("x-oss-hash-crc64ecma", str(part.crc64))]
    return OssResponse(200, headers)


async def _store_part(
    ctx: OssContext, req: OssRequest, upload: MultipartUpload, number: int, ref: BlobRef
) -> Part:
    """Record the part whose bytes are the new blob ``ref``, then delete the blob it replaced;
    on any failure the new blob is deleted instead."""
    part = Part(
        upload_id=upload.upload_id,
        part_number=number,
        blob_id=ref.blob_id,
        size=ref.size,
        etag=ref.md5_hex or "",
        crc64=ref.crc64,
        last_modified=iso8601_ms(req.now),
    )
    await settle(
        ctx.blobs,
        lambda: ctx.store.put_part(req.bucket_name, req.key, part),
        lambda released: [released],
        adds=ref.blob_id,
    )
    return part


# ---- UploadPartCopy ----------------------------------------------------------------------


async def upload_part_copy(ctx: OssContext, req: OssRequest) -> OssResponse:
    """``PUT ?partNumber&uploadId`` with ``x-oss-copy-source`` (spec 9): the source's bytes, or
    the ``x-oss-copy-source-range`` of them (an invalid or unsatisfiable range copies the whole
    object), become the part. Copy-source conditions as for CopyObject (spec 7.5)."""
    number = _part_number(req.params)
    src_bucket, src_key = parse_copy_source(req.headers.get("x-oss-copy-source", ""))
    upload = await _load_upload(ctx, req)
    source = await in_thread(ctx.store.get_object, src_bucket, src_key)
    if source is None:
        raise NotFound("Object", src_key)
    _check_copy_conditions(req.headers, source)
    span = parse_range(req.headers.get("x-oss-copy-source-range"), source.size, standard=False)
    start, end = span if span is not None else (0, source.size - 1)
    ref = await write_stream(ctx.blobs, _blob_chunks(ctx, source, start, end + 1))
    part = await _store_part(ctx, req, upload, number, ref)
    headers = [
        ("Content-Type", "application/xml"),
        ("ETag", quoted(part.etag)),
        ("x-oss-hash-crc64ecma", str(part.crc64)),
    ]
    if source.size:
        headers.append(("Content-Range", f"bytes {start}-{end}/{source.size}"))
    return OssResponse(200, headers, copy_part_xml(part.etag, req.now))


# ---- CompleteMultipartUpload -------------------------------------------------------------


def _complete_all(req: OssRequest) -> bool:
    return req.headers.get("x-oss-complete-all", "").strip().lower() == "yes"


async def _chosen_parts(ctx: OssContext, req: OssRequest, upload_id: str) -> list[Part]:
    """The parts the request names, checked: ascending, known, matching ETags, big enough."""
    body = await req.read_body(MAX_XML_BYTES)
    stored = await _all_parts(ctx, req, upload_id)
    if _complete_all(req):
        if body.strip():
            raise InvalidArgument(
                "x-oss-complete-all", message="Body must be empty with x-oss-complete-all."
            )
        chosen = [stored[number] for number in sorted(stored)]
        if not chosen:
            raise MalformedXML("the upload has no parts")
    else:
        chosen = []
        previous = 0
        for named in parse_complete_multipart_upload(body):
            if named.part_number <= previous:
                raise InvalidPartOrder(named.part_number)
            previous = named.part_number
            part = stored.get(named.part_number)
            if part is None or part.etag.upper() != named.etag.upper():
                raise InvalidPart(named.part_number)
            chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_SIZE:
            raise EntityTooSmall(part.part_number, part.size, MIN_PART_SIZE)
    return chosen


async def complete_multipart_upload(ctx: OssContext, req: OssRequest) -> OssResponse:
    url = _url_encoding(req.params)
    if_absent = _forbid_overwrite(req.headers)
    upload = await _load_upload(ctx, req)
    chosen = await _chosen_parts(ctx, req, upload.upload_id)
    refs = [BlobRef(part.blob_id, part.size, part.etag, part.crc64) for part in chosen]
    try:
        ref = await in_thread(ctx.blobs.compose, refs)
    except BlobError:  # a part was replaced (and its blob deleted) meanwhile
        raise InvalidPart(chosen[0].part_number) from None
    etag = multipart_etag([bytes.fromhex(part.etag) for part in chosen])
    meta = ObjectMeta(
        bucket=req.bucket_name,
        key=req.key,
        blob_id=ref.blob_id,
        size=ref.size,
        etag=etag,
        crc64=ref.crc64,
        last_modified=iso8601_ms(req.now),
        object_type=ObjectType.MULTIPART,
        attrs=upload.attrs,
    )
    try:
        await settle(
            ctx.blobs,
            lambda: ctx.store.complete_upload(upload.upload_id, chosen, meta, if_absent=if_absent),
            lambda freed: freed,
            adds=ref.blob_id,
        )
    except NotFound as error:
        if error.kind == "Upload.Part":
            raise InvalidPart(int(error.name) if error.name.isdigit() else 0) from None
        raise
    headers = [
        ("Content-Type", "application/xml"),
        ("ETag", quoted(etag)),
        ("x-oss-hash-crc64ecma", str(meta.crc64)),
    ]
    body = complete_multipart_upload_xml(
        _location(req), req.bucket_name, req.key, etag, encoding_url=url
    )
    return OssResponse(200, headers, body)


# ---- Abort -------------------------------------------------------------------------------


async def abort_multipart_upload(ctx: OssContext, req: OssRequest) -> OssResponse:
    upload_id = _upload_id(req.params)
    await settle(
        ctx.blobs,
        lambda: ctx.store.abort_upload(req.bucket_name, req.key, upload_id),
        lambda freed: freed,
    )
    return OssResponse(204)


# ---- listings ----------------------------------------------------------------------------


async def list_parts(ctx: OssContext, req: OssRequest) -> OssResponse:
    params = req.params
    url = _url_encoding(params)
    max_parts = parse_max_keys(params, "max-parts", _MAX_LIST_PARTS)
    marker = _int_param(params, "part-number-marker", 0, MAX_PART_NUMBER)
    upload = await _load_upload(ctx, req)
    page = await in_thread(
        lambda: ctx.store.list_parts(
            req.bucket_name,
            req.key,
            upload.upload_id,
            part_number_marker=marker,
            max_parts=max_parts,
        )
    )
    entries = [
        PartEntry(
            part_number=part.part_number,
            last_modified=parse_iso8601(part.last_modified),
            etag=part.etag,
            size=part.size,
            crc64=part.crc64,
        )
        for part in page.parts
    ]
    result = PartsPage(
        bucket=req.bucket_name,
        key=req.key,
        upload_id=upload.upload_id,
        part_number_marker=marker,
        next_part_number_marker=page.next_part_number_marker,
        max_parts=max_parts,
        is_truncated=page.is_truncated,
        parts=entries,
        encoding_url=url,
    )
    return xml_response(list_parts_xml(result))


async def list_multipart_uploads(ctx: OssContext, req: OssRequest) -> OssResponse:
    params = req.params
    url = _url_encoding(params)
    max_uploads = parse_max_keys(params, "max-uploads", _MAX_LIST_PARTS)
    prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
    key_marker = params.get("key-marker", "")
    upload_id_marker = params.get("upload-id-marker", "") if key_marker else ""
    page = await in_thread(
        lambda: ctx.store.list_uploads(
            req.bucket_name,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )
    )
    uploads = [
        MultipartUploadEntry(
            key=upload.key,
            upload_id=upload.upload_id,
            initiated=parse_iso8601(upload.initiated),
            storage_class=upload.attrs.storage_class,
        )
        for upload in page.uploads
    ]
    result = MultipartUploadsPage(
        bucket=req.bucket_name,
        key_marker=key_marker,
        upload_id_marker=upload_id_marker,
        next_key_marker=page.next_key_marker,
        next_upload_id_marker=page.next_upload_id_marker,
        delimiter=delimiter,
        prefix=prefix,
        max_uploads=max_uploads,
        is_truncated=page.is_truncated,
        uploads=uploads,
        common_prefixes=page.common_prefixes,
        encoding_url=url,
    )
    return xml_response(list_multipart_uploads_xml(result))


MULTIPART_OPERATIONS: dict[str, Operation] = {
    "InitiateMultipartUpload": initiate_multipart_upload,
    "UploadPart": upload_part,
    "UploadPartCopy": upload_part_copy,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
    "ListParts": list_parts,
    "ListMultipartUploads": list_multipart_uploads,
}
