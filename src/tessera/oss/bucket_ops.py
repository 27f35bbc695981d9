"""Bucket and service operations: PutBucket, DeleteBucket, ListBuckets, GetBucketInfo,
GetBucketLocation, PutBucketAcl, GetBucketAcl (spec oss.md 7.7, 8.3, 8.4).

Owns: turning an authorized ``OssRequest`` into store calls and an ``OssResponse``.
Must not: authenticate, authorize or render errors (``oss.app`` does); every blocking store call
runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from tessera.clock import parse_iso8601
from tessera.errors import AlreadyExists, InvalidArgument, MissingArgument
from tessera.store.oss_base import Bucket

from .authz import parse_acl
from .exchange import OssContext, OssRequest, OssResponse, in_thread, xml_response
from .xml import (
    MAX_XML_BYTES,
    BucketEntry,
    BucketInfo,
    access_control_policy_xml,
    bucket_info_xml,
    iso8601_ms,
    list_buckets_xml,
    location_xml,
    parse_create_bucket_configuration,
)

__all__ = ["BUCKET_OPERATIONS", "Operation", "parse_max_keys"]

Operation = Callable[[OssContext, OssRequest], Awaitable[OssResponse]]

MAX_LIST_KEYS = 1000


def parse_max_keys(params: Mapping[str, str], name: str = "max-keys", default: int = 100) -> int:
    """``max-keys``: an integer 1..1000 (absent or empty: ``default``)."""
    text = params.get(name, "")
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_LIST_KEYS:
        raise InvalidArgument(name, message=f"{name} must be an integer between 1 and 1000.")
    return int(text)


def bucket_entry(ctx: OssContext, req: OssRequest, bucket: Bucket) -> BucketEntry:
    return BucketEntry(
        name=bucket.name,
        creation_date=parse_iso8601(bucket.created_at),
        location=f"oss-{bucket.region}",
        region=bucket.region,
        extranet_endpoint=req.endpoint,
        intranet_endpoint=req.endpoint,
        storage_class=bucket.storage_class,
    )


async def put_bucket(ctx: OssContext, req: OssRequest) -> OssResponse:
    acl = parse_acl(req.headers.get("x-oss-acl", "private"))
    config = parse_create_bucket_configuration(await req.read_body(MAX_XML_BYTES))
    assert req.caller is not None
    bucket = Bucket(
        name=req.bucket_name,
        owner_account_id=req.caller.account_id,
        region=ctx.region,
        created_at=iso8601_ms(req.now),
        acl=acl.value,
        storage_class=config.storage_class,
    )
    try:
        await in_thread(ctx.store.create_bucket, bucket)
    except AlreadyExists:
        existing = await in_thread(ctx.store.get_bucket, bucket.name)
        if existing is None or existing.owner_account_id != bucket.owner_account_id:
            raise
    return OssResponse(200, [("Location", f"/{bucket.name}")])


async def delete_bucket(ctx: OssContext, req: OssRequest) -> OssResponse:
    await in_thread(ctx.store.delete_bucket, req.bucket_name)
    return OssResponse(204)


async def list_buckets(ctx: OssContext, req: OssRequest) -> OssResponse:
    assert req.caller is not None
    paged = "max-keys" in req.params
    max_keys = parse_max_keys(req.params)
    prefix, marker = req.params.get("prefix", ""), req.params.get("marker", "")
    page = await in_thread(
        lambda: ctx.store.list_buckets(
            req.caller.account_id if req.caller else "",
            prefix=prefix,
            marker=marker,
            max_keys=max_keys,
        )
    )
    body = list_buckets_xml(
        req.owner(),
        [bucket_entry(ctx, req, bucket) for bucket in page.items],
        prefix=prefix,
        marker=marker,
        max_keys=max_keys if paged else None,
        next_marker=page.next_marker if page.is_truncated else None,
    )
    return xml_response(body)


async def get_bucket_info(ctx: OssContext, req: OssRequest) -> OssResponse:
    assert req.bucket is not None
    info = BucketInfo(bucket_entry(ctx, req, req.bucket), req.owner(), req.bucket.acl)
    return xml_response(bucket_info_xml(info))


async def get_bucket_location(ctx: OssContext, req: OssRequest) -> OssResponse:
    assert req.bucket is not None
    return xml_response(location_xml(f"oss-{req.bucket.region}"))


async def put_bucket_acl(ctx: OssContext, req: OssRequest) -> OssResponse:
    text = req.headers.get("x-oss-acl")
    if text is None:
        raise MissingArgument("x-oss-acl")
    acl = parse_acl(text)
    await in_thread(ctx.store.put_bucket_acl, req.bucket_name, acl.value)
    return OssResponse(200)


async def get_bucket_acl(ctx: OssContext, req: OssRequest) -> OssResponse:
    assert req.bucket is not None
    return xml_response(access_control_policy_xml(req.owner(), req.bucket.acl))


BUCKET_OPERATIONS: dict[str, Operation] = {
    "PutBucket": put_bucket,
    "DeleteBucket": delete_bucket,
    "ListBuckets": list_buckets,
    "GetBucketInfo": get_bucket_info,
    "GetBucketLocation": get_bucket_location,
    "PutBucketAcl": put_bucket_acl,
    "GetBucketAcl": get_bucket_acl,
}
