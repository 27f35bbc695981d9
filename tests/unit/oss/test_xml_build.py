"""Response documents, read back with the SDKs' own parsers (oss2 ``xml_utils``,
alibabacloud-oss-v2 ``serde`` + models) to prove element names, order and encodings."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from xml.etree import ElementTree

import pytest
from alibabacloud_oss_v2 import models, serde, serde_utils
from oss2 import xml_utils

from tessera.oss.xml import (
    BucketEntry,
    BucketInfo,
    ListObjectsPage,
    ListObjectsV2Page,
    MultipartUploadEntry,
    MultipartUploadsPage,
    ObjectEntry,
    Owner,
    PartEntry,
    PartsPage,
    access_control_policy_xml,
    bucket_info_xml,
    bucket_stat_xml,
    complete_multipart_upload_xml,
    copy_object_xml,
    copy_part_xml,
    delete_result_xml,
    initiate_multipart_upload_xml,
    iso8601_ms,
    list_buckets_xml,
    list_live_channels_xml,
    list_multipart_uploads_xml,
    list_objects_v2_xml,
    list_objects_xml,
    list_parts_xml,
    location_xml,
    post_response_xml,
)

T0 = 1449880673.0  # 2015-12-12T00:37:53Z
OWNER = Owner("1234567890123456", "1234567890123456")
AWKWARD = ["a+b", "sp ace", "100%", "../x", "wörld", "😀", "x&<y>", "dir/"]
DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _entry(key: str, size: int = 11) -> ObjectEntry:
    return ObjectEntry(key, T0, "5EB63BBBE01EEED093CB22BB8F5ACDC3", size, owner=OWNER)


def _oss2(parse: Any, body: bytes, **fields: Any) -> Any:
    result = SimpleNamespace(**fields)
    parse(result, body)
    return result


def _v2(result: Any, body: bytes, root: str, *, decode: bool = False) -> Any:
    serde.deserialize_xml(body, result, expect_tag=root)
    if decode:
        serde_utils.deserialize_encode_type(result, None)  # type: ignore[arg-type]
    return result


def _tags(body: bytes) -> list[str]:
    return [child.tag for child in ElementTree.fromstring(body)]


def test_timestamps_have_milliseconds() -> None:
    assert iso8601_ms(T0) == "2015-12-12T00:37:53.000Z"
    assert iso8601_ms(T0 + 0.25) == "2015-12-12T00:37:53.000Z"  # oss2 accepts only .000Z


def test_every_document_starts_with_the_declaration() -> None:
    assert location_xml("oss-cn-hangzhou").startswith(DECL)


@pytest.mark.parametrize("url", [False, True])
def test_list_objects_v1(url: bool) -> None:
    page = ListObjectsPage(
        "bkt",
        prefix="p/ä",
        marker="m+1",
        max_keys=2,
        delimiter="/",
        is_truncated=True,
        next_marker="n xt",
        objects=[_entry(k) for k in AWKWARD],
        common_prefixes=["p/ä/sub dir/"],
        encoding_url=url,
    )
    body = list_objects_xml(page)
    expected_order = ["Name", "Prefix", "Marker", "MaxKeys", "Delimiter"]
    expected_order += ["EncodingType"] if url else []
    expected_order += ["IsTruncated", "NextMarker"]
    assert _tags(body)[: len(expected_order)] == expected_order
    contents = ElementTree.fromstring(body).find("Contents")
    assert contents is not None
    assert [c.tag for c in contents] == [
        "Key",
        "LastModified",
        "ETag",
        "Type",
        "Size",
        "StorageClass",
        "Owner",
    ]
    got = _oss2(xml_utils.parse_list_objects, body, object_list=[], prefix_list=[])
    assert [o.key for o in got.object_list] == AWKWARD
    assert got.object_list[0].etag == "5EB63BBBE01EEED093CB22BB8F5ACDC3"
    assert got.object_list[0].last_modified == int(T0)
    assert got.object_list[0].owner.id == OWNER.id
    assert got.next_marker == "n xt" and got.is_truncated is True
    assert got.prefix_list == ["p/ä/sub dir/"]
    v2 = _v2(models.ListObjectsResult(), body, "ListBucketResult", decode=True)
    assert [o.key for o in v2.contents] == AWKWARD
    assert (v2.prefix, v2.marker, v2.next_marker, v2.delimiter) == ("p/ä", "m+1", "n xt", "/")
    assert v2.contents[0].etag == '"5EB63BBBE01EEED093CB22BB8F5ACDC3"'
    assert v2.common_prefixes[0].prefix == "p/ä/sub dir/"
    assert v2.max_keys == 2 and v2.is_truncated is True


def test_list_objects_url_encoding_is_percent_encoding_of_everything_but_unreserved() -> None:
    body = list_objects_xml(
        ListObjectsPage("b", prefix="a/b", objects=[_entry("a b+c")], encoding_url=True)
    )
    root = ElementTree.fromstring(body)
    assert root.findtext("Prefix") == "a%2Fb"
    assert root.findtext("Contents/Key") == "a%20b%2Bc"
    assert root.findtext("Name") == "b"  # the bucket name is never encoded


def test_list_objects_not_truncated_has_no_next_marker() -> None:
    body = list_objects_xml(ListObjectsPage("b"))
    assert "NextMarker" not in _tags(body)
    assert ElementTree.fromstring(body).findtext("IsTruncated") == "false"
    got = _oss2(xml_utils.parse_list_objects, body, object_list=[], prefix_list=[])
    assert got.is_truncated is False and got.object_list == []


@pytest.mark.parametrize(("url", "fetch_owner"), [(False, False), (True, True)])
def test_list_objects_v2(url: bool, fetch_owner: bool) -> None:
    page = ListObjectsV2Page(
        "bkt",
        prefix="p+",
        start_after="s a",
        continuation_token="tok/1",
        max_keys=3,
        delimiter="/",
        is_truncated=True,
        next_continuation_token="tok/2 ä",
        objects=[_entry(k) for k in AWKWARD[:3]],
        common_prefixes=["p+/d/"],
        fetch_owner=fetch_owner,
        encoding_url=url,
    )
    body = list_objects_v2_xml(page)
    expected = ["Name", "Prefix", "StartAfter", "ContinuationToken", "MaxKeys", "Delimiter"]
    expected += ["EncodingType"] if url else []
    expected += ["IsTruncated", "NextContinuationToken", "KeyCount"]
    assert _tags(body)[: len(expected)] == expected
    root = ElementTree.fromstring(body)
    assert root.findtext("KeyCount") == "4"
    assert (root.find("Contents/Owner") is not None) is fetch_owner
    got = _oss2(xml_utils.parse_list_objects_v2, body, object_list=[], prefix_list=[])
    assert [o.key for o in got.object_list] == AWKWARD[:3]
    assert got.next_continuation_token == "tok/2 ä"
    v2 = _v2(models.ListObjectsV2Result(), body, "ListBucketResult", decode=True)
    assert [o.key for o in v2.contents] == AWKWARD[:3]
    assert (v2.start_after, v2.continuation_token) == ("s a", "tok/1")
    assert v2.next_continuation_token == "tok/2 ä" and v2.key_count == 4


def test_list_objects_v2_without_optional_markers() -> None:
    body = list_objects_v2_xml(ListObjectsV2Page("b"))
    assert "StartAfter" not in _tags(body) and "ContinuationToken" not in _tags(body)
    assert "NextContinuationToken" not in _tags(body)


def _bucket(name: str) -> BucketEntry:
    return BucketEntry(
        name, T0, "oss-cn-hangzhou", "cn-hangzhou", "http://127.0.0.1:9800", "127.0.0.1:9800"
    )


def test_list_buckets() -> None:
    body = list_buckets_xml(OWNER, [_bucket("b1b"), _bucket("b2b")], max_keys=2, next_marker="b2b")
    assert _tags(body) == [
        "Owner",
        "Prefix",
        "Marker",
        "MaxKeys",
        "IsTruncated",
        "NextMarker",
        "Buckets",
    ]
    got = _oss2(xml_utils.parse_list_buckets, body, buckets=[])
    assert [b.name for b in got.buckets] == ["b1b", "b2b"]
    assert got.buckets[0].extranet_endpoint == "http://127.0.0.1:9800"
    assert got.buckets[0].location == "oss-cn-hangzhou"
    assert got.is_truncated is True and got.next_marker == "b2b"
    assert got.owner.id == OWNER.id
    v2 = _v2(models.ListBucketsResult(), body, "ListAllMyBucketsResult")
    assert [b.name for b in v2.buckets] == ["b1b", "b2b"]
    assert v2.buckets[0].region == "cn-hangzhou" and v2.owner.id == OWNER.id


def test_list_buckets_without_paging() -> None:
    body = list_buckets_xml(OWNER, [])
    assert _tags(body) == ["Owner", "Buckets"]
    got = _oss2(xml_utils.parse_list_buckets, body, buckets=[])
    assert got.is_truncated is False and got.buckets == []


def test_bucket_info() -> None:
    body = bucket_info_xml(BucketInfo(_bucket("bkt"), OWNER, "public-read"))
    got = _oss2(xml_utils.parse_get_bucket_info, body)
    assert (got.name, got.location, got.acl.grant) == ("bkt", "oss-cn-hangzhou", "public-read")
    assert got.owner.id == OWNER.id and got.storage_class == "Standard"
    assert got.creation_date == "2015-12-12T00:37:53.000Z"
    v2 = _v2(models.GetBucketInfoResult(), body, "BucketInfo")
    assert v2.bucket_info.name == "bkt" and v2.bucket_info.acl == "public-read"


def test_location_and_stat_and_live_channels() -> None:
    body = location_xml("oss-cn-hangzhou")
    assert _oss2(xml_utils.parse_get_bucket_location, body).location == "oss-cn-hangzhou"
    assert _v2(models.GetBucketLocationResult(), body, "LocationConstraint").location == (
        "oss-cn-hangzhou"
    )
    stat = _oss2(xml_utils.parse_get_bucket_stat, bucket_stat_xml(10, 2, 1))
    assert (stat.storage_size_in_bytes, stat.object_count, stat.multi_part_upload_count) == (
        10,
        2,
        1,
    )
    live = _oss2(xml_utils.parse_list_live_channel, list_live_channels_xml(), channels=[])
    assert live.is_truncated is False and live.channels == []


@pytest.mark.parametrize("grant", ["private", "public-read", "public-read-write", "default"])
def test_access_control_policy(grant: str) -> None:
    body = access_control_policy_xml(OWNER, grant)
    assert _oss2(xml_utils.parse_get_object_acl, body).acl == grant
    assert _oss2(xml_utils.parse_get_bucket_acl, body).acl == grant
    assert _v2(models.GetObjectAclResult(), body, "AccessControlPolicy").acl == grant
    v2 = _v2(models.GetBucketAclResult(), body, "AccessControlPolicy")
    assert v2.acl == grant and v2.owner.id == OWNER.id


@pytest.mark.parametrize("url", [False, True])
def test_initiate_multipart_upload(url: bool) -> None:
    body = initiate_multipart_upload_xml(
        "bkt", "a b/c+d", "0004B999EF5A239BB9138C6227D6****", encoding_url=url
    )
    assert _oss2(xml_utils.parse_init_multipart_upload, body).upload_id.startswith("0004B999")
    v2 = _v2(
        models.InitiateMultipartUploadResult(), body, "InitiateMultipartUploadResult", decode=True
    )
    assert (v2.bucket, v2.key) == ("bkt", "a b/c+d")


@pytest.mark.parametrize("url", [False, True])
def test_complete_multipart_upload(url: bool) -> None:
    body = complete_multipart_upload_xml(
        "http://bkt.oss.localhost/k",
        "bkt",
        "k ü",
        "A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5-2",
        encoding_url=url,
    )
    v2 = _v2(
        models.CompleteMultipartUploadResult(), body, "CompleteMultipartUploadResult", decode=True
    )
    assert (v2.bucket, v2.key, v2.etag) == ("bkt", "k ü", '"A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5-2"')
    assert v2.location == "http://bkt.oss.localhost/k"


def test_list_parts() -> None:
    parts = [PartEntry(n, T0, f"{n:032X}", 102400, 5981764153023615706) for n in (1, 2)]
    page = PartsPage("bkt", "k", "UP", 0, 2, 2, True, parts)
    body = list_parts_xml(page)
    got = _oss2(xml_utils.parse_list_parts, body, parts=[])
    assert [(p.part_number, p.size) for p in got.parts] == [(1, 102400), (2, 102400)]
    assert got.next_marker == "2" and got.is_truncated is True
    assert got.parts[0].etag == f"{1:032X}"
    v2 = _v2(models.ListPartsResult(), body, "ListPartsResult")
    assert v2.parts[1].hash_crc64 == "5981764153023615706"
    assert (v2.part_number_marker, v2.next_part_number_marker, v2.max_parts) == (0, 2, 2)


def test_list_parts_first_empty_page_still_has_next_marker() -> None:
    body = list_parts_xml(PartsPage("bkt", "k", "UP"))
    assert _oss2(xml_utils.parse_list_parts, body, parts=[]).next_marker == "0"


@pytest.mark.parametrize("url", [False, True])
def test_list_multipart_uploads(url: bool) -> None:
    page = MultipartUploadsPage(
        "bkt",
        key_marker="k m",
        next_key_marker="n+k",
        next_upload_id_marker="U2",
        prefix="p/",
        delimiter="/",
        max_uploads=2,
        is_truncated=True,
        uploads=[MultipartUploadEntry("p/a b", "U1", T0), MultipartUploadEntry("p/ü", "U2", T0)],
        common_prefixes=["p/d/"],
        encoding_url=url,
    )
    body = list_multipart_uploads_xml(page)
    got = _oss2(xml_utils.parse_list_multipart_uploads, body, upload_list=[], prefix_list=[])
    assert [u.key for u in got.upload_list] == ["p/a b", "p/ü"]
    assert (got.next_key_marker, got.next_upload_id_marker) == ("n+k", "U2")
    assert got.prefix_list == ["p/d/"] and got.upload_list[0].initiation_date == int(T0)
    v2 = _v2(models.ListMultipartUploadsResult(), body, "ListMultipartUploadsResult", decode=True)
    assert (v2.key_marker, v2.next_key_marker, v2.prefix) == ("k m", "n+k", "p/")
    assert v2.uploads[0].upload_id == "U1"


def test_copy_object_and_copy_part() -> None:
    body = copy_object_xml("5EB63BBBE01EEED093CB22BB8F5ACDC3", T0)
    assert _tags(body) == ["ETag", "LastModified"]
    v2 = _v2(models.CopyObjectResult(), body, "CopyObjectResult")
    assert v2.etag == '"5EB63BBBE01EEED093CB22BB8F5ACDC3"'
    assert v2.last_modified.timestamp() == T0
    part = _v2(models.UploadPartCopyResult(), copy_part_xml("ABC", T0), "CopyPartResult")
    assert part.etag == '"ABC"'


@pytest.mark.parametrize("url", [False, True])
def test_delete_result(url: bool) -> None:
    keys = ["a", "b c+d", "x&y"]
    body = delete_result_xml(keys, encoding_url=url)
    got = _oss2(xml_utils.parse_batch_delete_objects, body, deleted_keys=[], delete_versions=[])
    assert got.deleted_keys == keys
    v2 = _v2(models.DeleteMultipleObjectsResult(), body, "DeleteResult", decode=True)
    assert [d.key for d in v2.deleted_objects] == keys


def test_quiet_delete_result_is_empty() -> None:
    assert _tags(delete_result_xml([])) == []


def test_post_response() -> None:
    body = post_response_xml("bkt", "http://bkt.oss.localhost/k", "k", "ABC")
    assert _tags(body) == ["Bucket", "Location", "Key", "ETag"]
    assert ElementTree.fromstring(body).findtext("ETag") == '"ABC"'
