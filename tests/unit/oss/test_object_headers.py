"""The response headers of an object (remembered per object version and overrides)."""

from __future__ import annotations

from tessera.oss.object_ops import object_headers
from tessera.store.oss_base import ObjectAttrs, ObjectMeta

META = ObjectMeta(
    bucket="photos",
    key="cat.jpg",
    blob_id="b1",
    size=4,
    etag="5EB63BBBE01EEED093CB22BB8F5ACDC3",
    crc64=42,
    last_modified="2026-01-02T03:04:05.000Z",
    attrs=ObjectAttrs(content_type="image/jpeg", user_meta=(("x-oss-meta-a", "1"),)),
)


def test_overrides_replace_the_stored_value_in_place() -> None:
    plain = dict(object_headers(META, {}))
    over = object_headers(META, {"response-content-type": "text/plain", "acl": ""})
    assert plain["Content-Type"] == "image/jpeg"
    assert over[0] == ("Content-Type", "text/plain")
    assert dict(over) == {**plain, "Content-Type": "text/plain"}
    assert plain["Last-Modified"] == "Fri, 02 Jan 2026 03:04:05 GMT"
    assert plain["x-oss-meta-a"] == "1"


def test_each_answer_is_the_callers_own_list() -> None:
    first = object_headers(META, {})
    first.append(("Content-Length", "4"))
    assert ("Content-Length", "4") not in object_headers(META, {})
