from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tessera.rpc import render
from tessera.rpc.errors import WireError


def test_success_json_has_request_id_and_never_code() -> None:
    content_type, body = render.success("GetCallerIdentity", "RID", {"AccountId": "1"}, xml=False)
    assert content_type.startswith(b"application/json")
    decoded = json.loads(body)
    assert decoded == {"RequestId": "RID", "AccountId": "1"}
    assert "Code" not in decoded


def test_success_xml_root_is_action_response_and_lists_repeat() -> None:
    body = {"Users": {"User": [{"UserName": "a&b"}, {"UserName": "c"}]}, "IsTruncated": False}
    _, xml = render.success("ListUsers", "RID", body, xml=True)
    root = ET.fromstring(xml)
    assert root.tag == "ListUsersResponse"
    assert [u.findtext("UserName") for u in root.iter("User")] == ["a&b", "c"]
    assert root.findtext("IsTruncated") == "false"


def test_error_bodies() -> None:
    wire = WireError("InvalidVersion", 400, "Specified parameter Version is not valid.")
    content_type, body = render.failure(wire, "RID", "host", xml=False)
    assert content_type == b"application/json;charset=utf-8"
    decoded = json.loads(body)
    assert {k: decoded[k] for k in ("RequestId", "HostId", "Code", "Message")} == {
        "RequestId": "RID",
        "HostId": "host",
        "Code": "InvalidVersion",
        "Message": "Specified parameter Version is not valid.",
    }
    content_type, xml = render.failure(wire, "RID", "host", xml=True)
    assert content_type == b"text/xml;charset=utf-8"
    assert ET.fromstring(xml).findtext("Code") == "InvalidVersion"
