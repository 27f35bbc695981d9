"""Pure helpers of ``tessera oss``: ``oss://bucket/key`` URLs, the mapping between object keys
and local relative paths, name filters and size parsing.

Owns: the rules that decide which local file an object key may become on download (keys that
would escape the destination directory are refused here, in one place) and which key a local
file becomes on upload.
Must not: touch the network or the file system (callers stat, walk and open files).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath

SCHEME = "oss://"


class OssPathError(ValueError):
    """A malformed ``oss://`` URL or size; the CLI reports it as a usage error."""


class UnsafeKeyError(ValueError):
    """An object key that cannot become a local file name inside the destination directory."""


@dataclass(frozen=True)
class OssUrl:
    """``oss://bucket/key``; ``bucket`` is empty for ``oss://`` (all buckets), ``key`` is empty
    for a bucket or may end with ``/`` for a directory-like prefix."""

    bucket: str
    key: str = ""

    def __str__(self) -> str:
        if not self.bucket:
            return SCHEME
        if not self.key:
            return f"{SCHEME}{self.bucket}"
        return f"{SCHEME}{self.bucket}/{self.key}"

    def child(self, relative: str) -> OssUrl:
        return OssUrl(self.bucket, self.key + relative)


def is_oss_url(text: str) -> bool:
    return text[: len(SCHEME)].lower() == SCHEME


def parse_oss_url(text: str) -> OssUrl:
    """``oss://b/k`` → ``OssUrl("b", "k")``. The key is taken verbatim (OSS keys may hold any
    character); the bucket may not contain ``/`` and is lower-cased by no one: OSS names are
    lower case and the server says so if not."""
    if not is_oss_url(text):
        raise OssPathError(f"not an oss:// URL: {text!r}")
    rest = text[len(SCHEME) :]
    bucket, _, key = rest.partition("/")
    if not bucket and key:
        raise OssPathError(f"missing bucket name in {text!r}")
    return OssUrl(bucket, key)


def directory_prefix(key: str) -> str:
    """A non-empty key used as a directory in recursive commands: ``dir`` → ``dir/``, so
    ``rm -r oss://b/logs`` never touches ``logs-archive/``."""
    if key and not key.endswith("/"):
        return key + "/"
    return key


def key_for_upload(prefix: str, relative: PurePath | str) -> str:
    """The object key of a local file at ``relative`` (below the directory being uploaded):
    the directory prefix followed by the path with ``/`` separators."""
    parts = PurePath(relative).parts
    if not parts or any(part in ("", ".", "..") for part in parts):
        raise OssPathError(f"not a relative file path: {str(relative)!r}")
    return directory_prefix(prefix) + "/".join(parts)


def key_for_file_destination(dest_key: str, file_name: str) -> str:
    """``cp file oss://b/`` or ``oss://b/dir/`` puts the file under its own name; any other
    key is used as given."""
    if not dest_key or dest_key.endswith("/"):
        return dest_key + file_name
    return dest_key


def relative_key(key: str, prefix: str) -> str:
    """The part of ``key`` below the directory ``prefix`` (which must prefix it)."""
    base = directory_prefix(prefix)
    if not key.startswith(base):
        raise ValueError(f"{key!r} is not below {base!r}")
    return key[len(base) :]


def safe_relative_path(relative: str) -> PurePosixPath:
    """The local relative path an object key (relative to the downloaded prefix) becomes.

    Refuses (``UnsafeKeyError``) what could escape the destination directory or silently mean
    another file: empty names, absolute paths, ``..`` and ``.`` segments, empty segments
    (``a//b``), backslashes (a path separator on Windows) and NUL characters. A trailing ``/``
    (a directory marker object) is kept out of the result; callers ask ``is_directory_marker``.
    """
    if relative.endswith("/"):
        relative = relative[:-1]
    if not relative:
        raise UnsafeKeyError("empty file name")
    if "\x00" in relative:
        raise UnsafeKeyError("NUL character in the key")
    if "\\" in relative:
        raise UnsafeKeyError("backslash in the key")
    if relative.startswith("/"):
        raise UnsafeKeyError("absolute path")
    segments = relative.split("/")
    for segment in segments:
        if segment == "..":
            raise UnsafeKeyError("'..' segment")
        if segment in ("", "."):
            raise UnsafeKeyError("empty or '.' segment")
    return PurePosixPath(*segments)


def is_directory_marker(key: str) -> bool:
    """A zero-byte ``dir/`` object the console creates for folders: a directory locally."""
    return key.endswith("/")


def selected(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """ossutil-style filters on the file name (the last path segment): kept when it matches an
    ``--include`` pattern (or there is none) and no ``--exclude`` pattern."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    if include and not any(fnmatch.fnmatchcase(base, pattern) for pattern in include):
        return False
    return not any(fnmatch.fnmatchcase(base, pattern) for pattern in exclude)


_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(I?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``1048576``, ``100K``, ``8M``, ``1GiB`` → bytes (binary units)."""
    match = _SIZE.match(text)
    if match is None:
        raise OssPathError(f"not a size: {text!r} (use bytes or K/M/G suffixes)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]
