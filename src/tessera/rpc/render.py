"""RPC response bodies: JSON by default, XML when ``Format=XML``.

Owns: the envelope (``RequestId`` on every body; success bodies never carry ``Code``, because
``@alicloud/pop-core`` treats any ``Code`` as an error) and the error body of spec §1.7.
Must not: decide codes or statuses (``rpc.errors`` does) or see the request beyond its format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

import orjson

from tessera.rpc.errors import WireError

JSON_TYPE = b"application/json;charset=utf-8"
XML_TYPE = b"text/xml;charset=utf-8"


def _xml_value(name: str, value: Any, out: list[str]) -> None:
    if isinstance(value, Mapping):
        out.append(f"<{name}>")
        for key, child in value.items():
            _xml_value(key, child, out)
        out.append(f"</{name}>")
    elif isinstance(value, list):
        for item in value:
            _xml_value(name, item, out)
    elif isinstance(value, bool):
        out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
    elif value is None:
        out.append(f"<{name}/>")
    else:
        out.append(f"<{name}>{escape(str(value))}</{name}>")


def to_xml(root: str, body: Mapping[str, Any]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _xml_value(root, body, out)
    return "".join(out).encode()


def success(
    action: str, request_id: str, body: Mapping[str, Any], *, xml: bool
) -> tuple[bytes, bytes]:
    """(content type, body) for a successful call."""
    payload: dict[str, Any] = {"RequestId": request_id, **body}
    if xml:
        return XML_TYPE, to_xml(f"{action}Response", payload)
    return JSON_TYPE, orjson.dumps(payload)


def failure(
    wire: WireError,
    request_id: str,
    host_id: str,
    *,
    xml: bool,
    extra: Mapping[str, Any] | None = None,
) -> tuple[bytes, bytes]:
    """(content type, body) for an error, shaped as spec §1.7."""
    payload: dict[str, Any] = {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": wire.code,
        "Message": wire.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={wire.code}&requestId={request_id}",
    }
    if extra:
        payload.update(extra)
    if xml:
        return XML_TYPE, to_xml("Error", payload)
    return JSON_TYPE, orjson.dumps(payload)
