"""OSS request-body parsing and response-document building (spec oss.md 6-9).

Owns: the one safe XML parser for request bodies (size cap, UTF-8 only, no DTD, no entity
declarations, bounded depth; anything else is :class:`tessera.errors.MalformedXML`), the parsers
for the bodies OSS accepts, and the builders for every XML document Tessera answers with. Element
names and order follow the spec and the SDK parsers (oss2 ``xml_utils.py``, alibabacloud-oss-v2
``models``); with ``encoding-type=url`` the fields the SDKs URL-decode are percent-encoded.
Must not: do I/O, read a clock (timestamps arrive as epoch seconds) or know about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, NoReturn
from urllib.parse import quote
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat
from xml.sax.saxutils import escape

from tessera.clock import iso8601
from tessera.errors import InvalidArgument, MalformedXML

__all__ = [
    "MAX_DELETE_OBJECTS",
    "MAX_XML_BYTES",
    "MAX_XML_DEPTH",
    "STORAGE_CLASSES",
    "BucketEntry",
    "BucketInfo",
    "CompletedPart",
    "CreateBucketConfiguration",
    "DeleteRequest",
    "ListObjectsPage",
    "ListObjectsV2Page",
    "MultipartUploadEntry",
    "MultipartUploadsPage",
    "Node",
    "ObjectEntry",
    "Owner",
    "PartEntry",
    "PartsPage",
    "access_control_policy_xml",
    "bucket_info_xml",
    "bucket_stat_xml",
    "complete_multipart_upload_xml",
    "copy_object_xml",
    "copy_part_xml",
    "delete_result_xml",
    "initiate_multipart_upload_xml",
    "iso8601_ms",
    "list_buckets_xml",
    "list_live_channels_xml",
    "list_multipart_uploads_xml",
    "list_objects_v2_xml",
    "list_objects_xml",
    "list_parts_xml",
    "location_xml",
    "parse_complete_multipart_upload",
    "parse_create_bucket_configuration",
    "parse_delete",
    "parse_xml",
    "post_response_xml",
    "render",
]

#: Largest request body parsed (a 1000-key Delete or a 10000-part Complete fits easily).
MAX_XML_BYTES: Final = 4 * 1024 * 1024
#: Deepest element nesting accepted; OSS request documents are at most 3 levels deep.
MAX_XML_DEPTH: Final = 16
#: DeleteMultipleObjects accepts at most this many keys.
MAX_DELETE_OBJECTS: Final = 1000
STORAGE_CLASSES: Final = frozenset({"Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"})

XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'

# --- parsing --------------------------------------------------------------------------------


def _refuse(what: str) -> Callable[..., NoReturn]:
    def handler(*_args: object) -> NoReturn:
        raise MalformedXML(f"{what} is not allowed")

    return handler


class _Builder:
    """Feeds expat events into an ElementTree ``TreeBuilder`` while bounding the depth."""

    def __init__(self, max_depth: int) -> None:
        self.tree = TreeBuilder()
        self.depth = 0
        self.max_depth = max_depth

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise MalformedXML(f"elements nest deeper than {self.max_depth}")
        self.tree.start(tag, attrs)

    def end(self, tag: str) -> None:
        self.depth -= 1
        self.tree.end(tag)


def _expat_parser(builder: _Builder) -> expat.XMLParserType:
    parser = expat.ParserCreate("UTF-8")  # the document's own encoding declaration is overridden
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("a DOCTYPE")
    parser.EntityDeclHandler = _refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("an entity declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity")
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.tree.data
    return parser


def parse_xml(body: bytes, *, root: str | None = None, limit: int = MAX_XML_BYTES) -> Element:
    """Parse a request body; the root element must be ``root`` when given."""
    if len(body) > limit:
        raise MalformedXML(f"the body is larger than {limit} bytes")
    try:
        body.decode("utf-8")  # expat would follow a UTF-16 byte-order mark
    except UnicodeDecodeError:
        raise MalformedXML("the body is not UTF-8") from None
    builder = _Builder(MAX_XML_DEPTH)
    try:
        _expat_parser(builder).Parse(body, True)
        element = builder.tree.close()
    except expat.ExpatError as exc:
        raise MalformedXML(str(exc)) from None
    except AssertionError:  # TreeBuilder.close() on an empty document
        raise MalformedXML("the body is empty") from None
    if root is not None and element.tag != root:
        raise MalformedXML(f"the root element must be {root}")
    return element


def _text(parent: Element, tag: str) -> str:
    child = parent.find(tag)
    if child is None:
        raise MalformedXML(f"{parent.tag}/{tag} is missing")
    return child.text or ""


def _optional_text(parent: Element, tag: str) -> str | None:
    child = parent.find(tag)
    return None if child is None else (child.text or "")


def _boolean(text: str, where: str) -> bool:
    word = text.strip().lower()
    if word not in ("true", "false"):
        raise MalformedXML(f"{where} must be true or false")
    return word == "true"


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One ``<Part>`` of a CompleteMultipartUpload body; ``etag`` has its quotes stripped."""

    part_number: int
    etag: str


def _completed_part(node: Element) -> CompletedPart:
    number = _text(node, "PartNumber").strip()
    if not (number.isascii() and number.isdigit()):  # isdigit alone takes "²"
        raise MalformedXML("PartNumber must be an integer")
    return CompletedPart(int(number), _text(node, "ETag").strip().strip('"'))


def parse_complete_multipart_upload(body: bytes) -> tuple[CompletedPart, ...]:
    """``<CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>…`` in document order (the
    caller checks ascending order, InvalidPartOrder, and the ETags, InvalidPart)."""
    root = parse_xml(body, root="CompleteMultipartUpload")
    parts = tuple(_completed_part(node) for node in root.findall("Part"))
    if not parts:
        raise MalformedXML("CompleteMultipartUpload names no Part")
    return parts


@dataclass(frozen=True, slots=True)
class DeleteRequest:
    quiet: bool
    keys: tuple[str, ...]


def parse_delete(body: bytes) -> DeleteRequest:
    """``<Delete><Quiet>…</Quiet><Object><Key/></Object>…</Delete>`` with 1 to 1000 keys."""
    root = parse_xml(body, root="Delete")
    quiet_text = _optional_text(root, "Quiet")
    quiet = False if quiet_text is None else _boolean(quiet_text, "Quiet")
    keys = tuple(_text(node, "Key") for node in root.findall("Object"))
    if not keys or len(keys) > MAX_DELETE_OBJECTS:
        raise MalformedXML(f"Delete must name 1 to {MAX_DELETE_OBJECTS} objects")
    return DeleteRequest(quiet, keys)


@dataclass(frozen=True, slots=True)
class CreateBucketConfiguration:
    storage_class: str = "Standard"
    data_redundancy_type: str | None = None


def parse_create_bucket_configuration(body: bytes) -> CreateBucketConfiguration:
    """The optional PutBucket body; an empty body means the defaults."""
    if not body.strip():
        return CreateBucketConfiguration()
    root = parse_xml(body, root="CreateBucketConfiguration")
    storage_class = (_optional_text(root, "StorageClass") or "Standard").strip()
    if storage_class not in STORAGE_CLASSES:
        raise InvalidArgument("StorageClass", message=f"Unsupported storage class {storage_class}")
    redundancy = _optional_text(root, "DataRedundancyType")
    return CreateBucketConfiguration(storage_class, redundancy.strip() if redundancy else None)


# --- building -------------------------------------------------------------------------------

#: ``(tag, text)`` or ``(tag, children)``; ``None`` children are skipped (optional elements).
Node = tuple[str, "str | Sequence[Node | None]"]


def _write(node: Node, out: list[str]) -> None:
    tag, content = node
    out.append(f"<{tag}>")
    if isinstance(content, str):
        out.append(escape(content))
    else:
        for child in content:
            if child is not None:
                _write(child, out)
    out.append(f"</{tag}>")


def render(root: Node) -> bytes:
    """The document as UTF-8 bytes with the XML declaration OSS sends."""
    out = [XML_DECLARATION]
    _write(root, out)
    return "".join(out).encode("utf-8")


def iso8601_ms(epoch: float) -> str:
    """``2015-12-12T00:37:53.000Z``: the timestamp form of OSS XML bodies. The milliseconds are
    always ``000``, as OSS sends them: oss2 2.19.1 ``iso8601_to_unixtime`` rejects anything else.
    Built on ``clock.iso8601``, which formats each second once."""
    return iso8601(epoch)[:-1] + ".000Z"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _quoted(etag: str) -> str:
    return '"' + etag.strip('"') + '"'


def _encoder(url: bool) -> Callable[[str], str]:
    return (lambda text: quote(text, safe="")) if url else (lambda text: text)


def _encoding_type(url: bool) -> Node | None:
    return ("EncodingType", "url") if url else None


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    display_name: str

    def node(self, *, id_first: bool = True) -> Node:
        fields: list[Node | None] = [("ID", self.id), ("DisplayName", self.display_name)]
        return ("Owner", fields if id_first else fields[::-1])


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    """One listed object; ``etag`` without quotes, ``last_modified`` in epoch seconds."""

    key: str
    last_modified: float
    etag: str
    size: int
    object_type: str = "Normal"
    storage_class: str = "Standard"
    owner: Owner | None = None


def _contents(entry: ObjectEntry, encode: Callable[[str], str], with_owner: bool) -> Node:
    owner = entry.owner.node() if with_owner and entry.owner is not None else None
    return (
        "Contents",
        [
            ("Key", encode(entry.key)),
            ("LastModified", iso8601_ms(entry.last_modified)),
            ("ETag", _quoted(entry.etag)),
            ("Type", entry.object_type),
            ("Size", str(entry.size)),
            ("StorageClass", entry.storage_class),
            owner,
        ],
    )


def _common_prefixes(prefixes: Sequence[str], encode: Callable[[str], str]) -> list[Node | None]:
    return [("CommonPrefixes", [("Prefix", encode(prefix))]) for prefix in prefixes]


@dataclass(frozen=True, slots=True)
class ListObjectsPage:
    """A ListObjects (V1) page. ali-oss needs ``owner`` on every entry (spec 0.10)."""

    name: str
    prefix: str = ""
    marker: str = ""
    max_keys: int = 100
    delimiter: str = ""
    is_truncated: bool = False
    next_marker: str = ""
    objects: Sequence[ObjectEntry] = ()
    common_prefixes: Sequence[str] = ()
    encoding_url: bool = False


def list_objects_xml(page: ListObjectsPage) -> bytes:
    encode = _encoder(page.encoding_url)
    nodes: list[Node | None] = [
        ("Name", page.name),
        ("Prefix", encode(page.prefix)),
        ("Marker", encode(page.marker)),
        ("MaxKeys", str(page.max_keys)),
        ("Delimiter", encode(page.delimiter)),
        _encoding_type(page.encoding_url),
        ("IsTruncated", _flag(page.is_truncated)),
        ("NextMarker", encode(page.next_marker)) if page.is_truncated else None,
    ]
    nodes += [_contents(entry, encode, True) for entry in page.objects]
    nodes += _common_prefixes(page.common_prefixes, encode)
    return render(("ListBucketResult", nodes))


@dataclass(frozen=True, slots=True)
class ListObjectsV2Page:
    """A ListObjectsV2 page; ``Owner`` only with ``fetch_owner`` (spec 8.2)."""

    name: str
    prefix: str = ""
    start_after: str | None = None
    continuation_token: str | None = None
    max_keys: int = 100
    delimiter: str = ""
    is_truncated: bool = False
    next_continuation_token: str = ""
    objects: Sequence[ObjectEntry] = ()
    common_prefixes: Sequence[str] = ()
    fetch_owner: bool = False
    encoding_url: bool = False


def _if_given(tag: str, value: str | None, encode: Callable[[str], str]) -> Node | None:
    return None if value is None else (tag, encode(value))


def list_objects_v2_xml(page: ListObjectsV2Page) -> bytes:
    encode = _encoder(page.encoding_url)
    truncated = page.is_truncated
    nodes: list[Node | None] = [
        ("Name", page.name),
        ("Prefix", encode(page.prefix)),
        _if_given("StartAfter", page.start_after, encode),
        _if_given("ContinuationToken", page.continuation_token, encode),
        ("MaxKeys", str(page.max_keys)),
        ("Delimiter", encode(page.delimiter)),
        _encoding_type(page.encoding_url),
        ("IsTruncated", _flag(truncated)),
        ("NextContinuationToken", encode(page.next_continuation_token)) if truncated else None,
        ("KeyCount", str(len(page.objects) + len(page.common_prefixes))),
    ]
    nodes += [_contents(entry, encode, page.fetch_owner) for entry in page.objects]
    nodes += _common_prefixes(page.common_prefixes, encode)
    return render(("ListBucketResult", nodes))


@dataclass(frozen=True, slots=True)
class BucketEntry:
    """A bucket as ListBuckets and GetBucketInfo describe it. ``location`` is ``oss-<region>``;
    ``extranet_endpoint`` must be the public endpoint string exactly (SDK tests connect to it)."""

    name: str
    creation_date: float
    location: str
    region: str
    extranet_endpoint: str
    intranet_endpoint: str
    storage_class: str = "Standard"


def _bucket_node(bucket: BucketEntry) -> Node:
    return (
        "Bucket",
        [
            ("CreationDate", iso8601_ms(bucket.creation_date)),
            ("ExtranetEndpoint", bucket.extranet_endpoint),
            ("IntranetEndpoint", bucket.intranet_endpoint),
            ("Location", bucket.location),
            ("Name", bucket.name),
            ("Region", bucket.region),
            ("StorageClass", bucket.storage_class),
        ],
    )


def list_buckets_xml(
    owner: Owner,
    buckets: Sequence[BucketEntry],
    *,
    prefix: str = "",
    marker: str = "",
    max_keys: int | None = None,
    next_marker: str | None = None,
) -> bytes:
    """ListAllMyBucketsResult; the paging block only when the request paged (``max_keys``)."""
    paging: list[Node | None] = []
    if max_keys is not None:
        paging = [
            ("Prefix", prefix),
            ("Marker", marker),
            ("MaxKeys", str(max_keys)),
            ("IsTruncated", _flag(next_marker is not None)),
            ("NextMarker", next_marker) if next_marker is not None else None,
        ]
    buckets_node: Node = ("Buckets", [_bucket_node(bucket) for bucket in buckets])
    return render(("ListAllMyBucketsResult", [owner.node(), *paging, buckets_node]))


@dataclass(frozen=True, slots=True)
class BucketInfo:
    bucket: BucketEntry
    owner: Owner
    acl: str
    data_redundancy_type: str = "LRS"
    comment: str = ""


def bucket_info_xml(info: BucketInfo) -> bytes:
    b = info.bucket
    bucket: Node = (
        "Bucket",
        [
            ("CreationDate", iso8601_ms(b.creation_date)),
            ("ExtranetEndpoint", b.extranet_endpoint),
            ("IntranetEndpoint", b.intranet_endpoint),
            ("Location", b.location),
            ("StorageClass", b.storage_class),
            ("Name", b.name),
            info.owner.node(id_first=False),
            ("AccessControlList", [("Grant", info.acl)]),
            ("DataRedundancyType", info.data_redundancy_type),
            ("Comment", info.comment),
        ],
    )
    return render(("BucketInfo", [bucket]))


def location_xml(location: str) -> bytes:
    return render(("LocationConstraint", location))


def bucket_stat_xml(storage: int, object_count: int, multipart_upload_count: int) -> bytes:
    return render(
        (
            "BucketStat",
            [
                ("Storage", str(storage)),
                ("ObjectCount", str(object_count)),
                ("MultipartUploadCount", str(multipart_upload_count)),
            ],
        )
    )


def list_live_channels_xml() -> bytes:
    """Always empty: Tessera has no live channels, but oss2's test teardown lists them."""
    nodes: list[Node | None] = [
        ("Prefix", ""),
        ("Marker", ""),
        ("MaxKeys", "100"),
        ("IsTruncated", "false"),
    ]
    return render(("ListLiveChannelResult", nodes))


def access_control_policy_xml(owner: Owner, grant: str) -> bytes:
    """GetBucketAcl / GetObjectACL; ``grant`` is private, public-read, public-read-write or
    (objects only) default."""
    return render(
        ("AccessControlPolicy", [owner.node(), ("AccessControlList", [("Grant", grant)])])
    )


def initiate_multipart_upload_xml(
    bucket: str, key: str, upload_id: str, *, encoding_url: bool = False
) -> bytes:
    encode = _encoder(encoding_url)
    nodes: list[Node | None] = [
        ("Bucket", bucket),
        ("Key", encode(key)),
        ("UploadId", upload_id),
        _encoding_type(encoding_url),
    ]
    return render(("InitiateMultipartUploadResult", nodes))


def complete_multipart_upload_xml(
    location: str, bucket: str, key: str, etag: str, *, encoding_url: bool = False
) -> bytes:
    nodes: list[Node | None] = [
        _encoding_type(encoding_url),
        ("Location", location),
        ("Bucket", bucket),
        ("Key", _encoder(encoding_url)(key)),
        ("ETag", _quoted(etag)),
    ]
    return render(("CompleteMultipartUploadResult", nodes))


@dataclass(frozen=True, slots=True)
class PartEntry:
    part_number: int
    last_modified: float
    etag: str
    size: int
    crc64: int


@dataclass(frozen=True, slots=True)
class PartsPage:
    """ListParts; oss2 reads NextPartNumberMarker even when the page is not truncated."""

    bucket: str
    key: str
    upload_id: str
    part_number_marker: int = 0
    next_part_number_marker: int = 0
    max_parts: int = 1000
    is_truncated: bool = False
    parts: Sequence[PartEntry] = ()
    encoding_url: bool = False


def _part_node(part: PartEntry) -> Node:
    return (
        "Part",
        [
            ("PartNumber", str(part.part_number)),
            ("LastModified", iso8601_ms(part.last_modified)),
            ("ETag", _quoted(part.etag)),
            ("HashCrc64ecma", str(part.crc64)),
            ("Size", str(part.size)),
        ],
    )


def list_parts_xml(page: PartsPage) -> bytes:
    nodes: list[Node | None] = [
        _encoding_type(page.encoding_url),
        ("Bucket", page.bucket),
        ("Key", _encoder(page.encoding_url)(page.key)),
        ("UploadId", page.upload_id),
        ("PartNumberMarker", str(page.part_number_marker)),
        ("NextPartNumberMarker", str(page.next_part_number_marker)),
        ("MaxParts", str(page.max_parts)),
        ("IsTruncated", _flag(page.is_truncated)),
    ]
    nodes += [_part_node(part) for part in page.parts]
    return render(("ListPartsResult", nodes))


@dataclass(frozen=True, slots=True)
class MultipartUploadEntry:
    key: str
    upload_id: str
    initiated: float
    storage_class: str = "Standard"


@dataclass(frozen=True, slots=True)
class MultipartUploadsPage:
    """ListMultipartUploads; oss2 reads NextKeyMarker and NextUploadIdMarker on every page."""

    bucket: str
    key_marker: str = ""
    upload_id_marker: str = ""
    next_key_marker: str = ""
    next_upload_id_marker: str = ""
    delimiter: str = ""
    prefix: str = ""
    max_uploads: int = 1000
    is_truncated: bool = False
    uploads: Sequence[MultipartUploadEntry] = ()
    common_prefixes: Sequence[str] = ()
    encoding_url: bool = False


def _upload_node(upload: MultipartUploadEntry, encode: Callable[[str], str]) -> Node:
    return (
        "Upload",
        [
            ("Key", encode(upload.key)),
            ("UploadId", upload.upload_id),
            ("StorageClass", upload.storage_class),
            ("Initiated", iso8601_ms(upload.initiated)),
        ],
    )


def list_multipart_uploads_xml(page: MultipartUploadsPage) -> bytes:
    encode = _encoder(page.encoding_url)
    nodes: list[Node | None] = [
        ("Bucket", page.bucket),
        ("KeyMarker", encode(page.key_marker)),
        ("UploadIdMarker", page.upload_id_marker),
        ("NextKeyMarker", encode(page.next_key_marker)),
        ("NextUploadIdMarker", page.next_upload_id_marker),
        ("Delimiter", encode(page.delimiter)),
        ("Prefix", encode(page.prefix)),
        ("MaxUploads", str(page.max_uploads)),
        ("IsTruncated", _flag(page.is_truncated)),
        _encoding_type(page.encoding_url),
    ]
    nodes += [_upload_node(upload, encode) for upload in page.uploads]
    nodes += _common_prefixes(page.common_prefixes, encode)
    return render(("ListMultipartUploadsResult", nodes))


def copy_object_xml(etag: str, last_modified: float) -> bytes:
    nodes: list[Node | None] = [
        ("ETag", _quoted(etag)),
        ("LastModified", iso8601_ms(last_modified)),
    ]
    return render(("CopyObjectResult", nodes))


def copy_part_xml(etag: str, last_modified: float) -> bytes:
    nodes: list[Node | None] = [
        ("LastModified", iso8601_ms(last_modified)),
        ("ETag", _quoted(etag)),
    ]
    return render(("CopyPartResult", nodes))


def delete_result_xml(deleted: Sequence[str], *, encoding_url: bool = False) -> bytes:
    """DeleteResult; a quiet request passes no keys (spec 7.4)."""
    encode = _encoder(encoding_url)
    nodes: list[Node | None] = [_encoding_type(encoding_url)]
    nodes += [("Deleted", [("Key", encode(key))]) for key in deleted]
    return render(("DeleteResult", nodes))


def post_response_xml(bucket: str, location: str, key: str, etag: str) -> bytes:
    """The PostObject body for ``success_action_status=201`` (spec 10.1)."""
    nodes: list[Node | None] = [
        ("Bucket", bucket),
        ("Location", location),
        ("Key", key),
        ("ETag", _quoted(etag)),
    ]
    return render(("PostResponse", nodes))
