"""The safe parser and the request-body parsers (spec oss.md 7.4, 8.3, 9)."""

from __future__ import annotations

import pytest

from tessera.errors import InvalidArgument, MalformedXML
from tessera.oss.xml import (
    MAX_XML_BYTES,
    CompletedPart,
    CreateBucketConfiguration,
    DeleteRequest,
    parse_complete_multipart_upload,
    parse_create_bucket_configuration,
    parse_delete,
    parse_xml,
)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Delete><Object><Key>&lol3;</Key></Object></Delete>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&xxe;</Key></Object></Delete>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % p SYSTEM "http://example.invalid/x.dtd"> %p;]><Delete/>"""

BAD_BODIES = {
    "billion laughs": BILLION_LAUGHS,
    "external entity": EXTERNAL_ENTITY,
    "parameter entity": PARAMETER_ENTITY,
    "bare doctype": b'<!DOCTYPE Delete SYSTEM "http://example.invalid/d.dtd"><Delete/>',
    "undefined entity": b"<Delete><Object><Key>&nope;</Key></Object></Delete>",
    "oversize": b"<Delete>" + b" " * MAX_XML_BYTES + b"</Delete>",
    "latin-1 bytes": "<Delete><Object><Key>caf\xe9</Key></Object></Delete>".encode("latin-1"),
    "utf-16": "<Delete><Object><Key>k</Key></Object></Delete>".encode("utf-16"),
    "deep nesting": b"<a>" * 100 + b"</a>" * 100,
    "very deep nesting": b"<a>" * 100_000 + b"</a>" * 100_000,
    "empty": b"",
    "not xml": b"hello",
    "unclosed": b"<Delete><Object>",
    "two roots": b"<Delete/><Delete/>",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_hostile_or_broken_bodies_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(MalformedXML):
        parse_delete(body)


def test_declared_encoding_is_overridden_by_utf8() -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><r>é</r>'.encode()
    assert parse_xml(body).text == "é"


def test_wrong_root() -> None:
    with pytest.raises(MalformedXML):
        parse_xml(b"<Other/>", root="Delete")


def test_limit_is_inclusive() -> None:
    body = b"<r>" + b"x" * 10 + b"</r>"
    assert parse_xml(body, limit=len(body)).text == "x" * 10
    with pytest.raises(MalformedXML):
        parse_xml(body, limit=len(body) - 1)


def test_comments_and_processing_instructions_are_harmless() -> None:
    assert parse_xml(b"<?xml version='1.0'?><!-- c --><r><?pi x?>t</r>").text == "t"


def test_character_references_are_decoded() -> None:
    assert parse_xml(b"<r>a&amp;b&#x263A;&lt;</r>").text == "a&b\u263a<"


# --- bodies as the SDKs build them ---------------------------------------------------------


def test_complete_multipart_as_oss2_builds_it() -> None:
    from oss2 import xml_utils
    from oss2.models import PartInfo

    body = xml_utils.to_complete_upload_request(
        [
            PartInfo(1, "5EB63BBBE01EEED093CB22BB8F5ACDC3"),
            PartInfo(2, "0CC175B9C0F1B6A831C399E269772661"),
        ]
    )
    assert parse_complete_multipart_upload(body) == (
        CompletedPart(1, "5EB63BBBE01EEED093CB22BB8F5ACDC3"),
        CompletedPart(2, "0CC175B9C0F1B6A831C399E269772661"),
    )


def test_complete_multipart_as_v2_sdk_builds_it() -> None:
    from alibabacloud_oss_v2 import models, serde

    upload = models.CompleteMultipartUpload(
        parts=[
            models.UploadPart(part_number=1, etag='"ABC"'),
            models.UploadPart(part_number=3, etag='"DEF"'),
        ]
    )
    body = serde.serialize_xml(upload)
    assert parse_complete_multipart_upload(body) == (
        CompletedPart(1, "ABC"),
        CompletedPart(3, "DEF"),
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<CompleteMultipartUpload/>",
        b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>\u00b2</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>".encode(),
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
    ],
)
def test_complete_multipart_schema_errors(body: bytes) -> None:
    with pytest.raises(MalformedXML):
        parse_complete_multipart_upload(body)


def test_delete_as_oss2_builds_it() -> None:
    from oss2 import xml_utils

    keys = ["a", "dir/b c+d", "wörld&<>", "😀"]
    body = xml_utils.to_batch_delete_objects_request(keys, True)
    assert parse_delete(body) == DeleteRequest(True, tuple(keys))


def test_delete_as_v2_sdk_builds_it() -> None:
    from alibabacloud_oss_v2 import models, serde

    delete = models.Delete(
        objects=[models.DeleteObject(key="x/y"), models.DeleteObject(key="z")], quiet=False
    )
    assert parse_delete(serde.serialize_xml(delete)) == DeleteRequest(False, ("x/y", "z"))


def test_delete_as_ali_oss_sends_it() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Delete>\n  <Quiet>false</Quiet>\n'
        b"  <Object><Key>a.txt</Key></Object>\n</Delete>"
    )
    assert parse_delete(body) == DeleteRequest(False, ("a.txt",))


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Quiet>false</Quiet></Delete>",
        b"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
        b"<Delete><Object/></Delete>",
        b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>",
    ],
)
def test_delete_schema_errors(body: bytes) -> None:
    with pytest.raises(MalformedXML):
        parse_delete(body)


def test_delete_quiet_defaults_to_false_and_keeps_empty_key() -> None:
    assert parse_delete(b"<Delete><Object><Key></Key></Object></Delete>") == DeleteRequest(
        False, ("",)
    )


def test_create_bucket_configuration() -> None:
    from oss2 import xml_utils
    from oss2.models import BucketCreateConfig

    body = xml_utils.to_put_bucket_config(BucketCreateConfig("Archive", "ZRS"))
    assert parse_create_bucket_configuration(body) == CreateBucketConfiguration("Archive", "ZRS")
    assert parse_create_bucket_configuration(b"") == CreateBucketConfiguration()
    assert (
        parse_create_bucket_configuration(b"<CreateBucketConfiguration/>")
        == CreateBucketConfiguration()
    )
    with pytest.raises(InvalidArgument):
        parse_create_bucket_configuration(
            b"<CreateBucketConfiguration><StorageClass>Gold</StorageClass></CreateBucketConfiguration>"
        )
    with pytest.raises(MalformedXML):
        parse_create_bucket_configuration(b"<Bucket/>")
