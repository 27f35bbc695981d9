"""What PutObject keeps of a request's headers (``object_ops._attrs``)."""

from __future__ import annotations

from tessera.asgi import Message
from tessera.oss.exchange import OssRequest
from tessera.oss.object_ops import _STORED_HEADERS, _attrs

from .support import put_request


async def _no_body() -> Message:
    raise AssertionError("the attributes are read from the headers only")


def request(headers: dict[str, str]) -> OssRequest:
    return put_request(headers, _no_body)


def test_every_stored_header_is_kept_under_its_attribute() -> None:
    headers = {name: f"value of {name}" for _, _, name in _STORED_HEADERS}
    attrs = _attrs(request(headers))
    for attr, _, name in _STORED_HEADERS:
        assert getattr(attrs, attr) == f"value of {name}"


def test_absent_headers_are_none_and_the_rest_defaults() -> None:
    attrs = _attrs(request({"x-oss-meta-Who": "me", "x-oss-object-acl": "private"}))
    assert [getattr(attrs, attr) for attr, _, _ in _STORED_HEADERS] == [None] * 4
    assert attrs.content_type == "image/jpeg"  # by the key's extension
    assert attrs.acl == "private"
    assert attrs.storage_class == "Standard"
    assert attrs.user_meta == (("x-oss-meta-Who", "me"),)
