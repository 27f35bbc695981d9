"""Which bucket and key a request addresses (spec oss.md 0.1, 1, 13).

Owns: resolving ``(bucket, key)`` from the Host header and the raw request path. A Host of
``<bucket>.<domain>`` for a configured service domain, or ``<bucket>.oss-<region>[-internal]
.aliyuncs.com`` (ali-oss's Host override for IP endpoints), is virtual-host style; an empty bucket
label (``.oss-cn-hangzhou.aliyuncs.com``) is service level; everything else (IPs, ``localhost``,
the bare domain, unknown names) is path style, ``/<bucket>/<key>``. The key is percent-decoded
exactly once (oss2 sends ``/`` as ``%2F``) and must be UTF-8. In path style ``/-/…`` belongs to
Tessera itself and is not OSS.
Must not: look up buckets, authenticate, or read configuration (domains arrive as arguments).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote_to_bytes

from tessera.errors import InvalidName

from .names import check_bucket_name, check_object_key

__all__ = ["TESSERA_PREFIX", "Address", "Style", "Target", "host_name", "resolve"]

Style = Literal["path", "virtual"]
Target = Literal["service", "bucket", "object"]

#: Path prefix of Tessera's own endpoints (health, console…); never a bucket.
TESSERA_PREFIX: Final = "/-/"

_ALIYUN_HOST = re.compile(r"(?P<bucket>[^.]*)\.(?:oss-[a-z0-9-]+)\.aliyuncs\.com")
# alibabacloud-oss-v2 addresses ``<bucket>.localhost`` for a ``localhost`` endpoint (spec 0.1), so
# ``localhost`` is always a service domain after the configured ones.
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


@dataclass(frozen=True, slots=True)
class Address:
    """``bucket`` is None at service level; ``key`` is None at bucket level."""

    bucket: str | None
    key: str | None
    style: Style

    @property
    def target(self) -> Target:
        if self.bucket is None:
            return "service"
        return "bucket" if self.key is None else "object"


def host_name(host: str) -> str:
    """The Host header without its port, lower-cased; IPv6 literals keep their brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    if host.count(":") > 1:  # an unbracketed IPv6 literal has no port
        return host
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def _is_ip_or_localhost(name: str) -> bool:
    return name == "localhost" or ":" in name or name.startswith("[") or bool(_IPV4.fullmatch(name))


def _bucket_label(name: str, domains: Sequence[str]) -> str | None:
    """The label before a service domain, ``""`` for an empty label, None for path style."""
    for domain in (*domains, "localhost"):
        domain = domain.lower().strip(".")
        if name == domain:
            return None
        if domain and name.endswith("." + domain):
            return name[: -len(domain) - 1]
    match = _ALIYUN_HOST.fullmatch(name)
    return match["bucket"] if match else None


def _decode(raw: str, kind: str) -> str:
    if not raw.isascii():
        return _unquote_utf8(raw, kind)
    if "%" not in raw:  # nothing to decode (most names)
        return raw
    slashed = raw.replace("%2F", "/").replace("%2f", "/")
    if "%" not in slashed:  # oss2 escapes only the "/" of a plain key: 0.3 µs, not 2
        return slashed
    return _unquote_utf8(raw, kind)


def _unquote_utf8(raw: str, kind: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidName(kind, raw, f"The {kind.lower()} name is not valid UTF-8.") from None


def _object_key(raw_key: str) -> str | None:
    return check_object_key(_decode(raw_key, "Object")) if raw_key else None


def _virtual(label: str, raw_path: str) -> Address:
    raw_key = raw_path[1:]
    if not label:  # ``.oss-<region>.aliyuncs.com``: ali-oss at service level
        if raw_key:
            raise InvalidName("Bucket", "", "The specified bucket is not valid.")
        return Address(None, None, "virtual")
    return Address(check_bucket_name(label), _object_key(raw_key), "virtual")


def _path(raw_path: str) -> Address | None:
    if raw_path.startswith(TESSERA_PREFIX) or raw_path == TESSERA_PREFIX.rstrip("/"):
        return None
    raw_bucket, _, raw_key = raw_path[1:].partition("/")
    if not raw_bucket:
        return Address(None, None, "path")
    bucket = check_bucket_name(_decode(raw_bucket, "Bucket"))
    return Address(bucket, _object_key(raw_key), "path")


def resolve(host: str, raw_path: str, domains: Sequence[str] = ()) -> Address | None:
    """Resolve a request; ``raw_path`` is the path as sent (still percent-encoded, no query).
    Returns None for Tessera's own ``/-/`` paths. Raises ``InvalidName`` for bad names."""
    if not raw_path.startswith("/"):
        raw_path = "/" + raw_path
    name = host_name(host)
    label = None if _is_ip_or_localhost(name) else _bucket_label(name, domains)
    return _path(raw_path) if label is None else _virtual(label, raw_path)
