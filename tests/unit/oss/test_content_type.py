"""The Content-Type of an object stored without one: by its key's extension only."""

from __future__ import annotations

import pytest

from tessera.oss.object_ops import content_type_of


@pytest.mark.parametrize(
    "key, expected",
    [
        ("photo.jpg", "image/jpeg"),
        ("albums/2026/IMG_0001.JPG", "image/jpeg"),  # the extension's case does not matter
        ("page.html", "text/html"),
        ("notes.v2.txt", "text/plain"),  # the last extension decides
        ("clip.mp4", "video/mp4"),
        ("no-extension", "application/octet-stream"),
        ("dir.v2/file", "application/octet-stream"),  # a dot in a parent "directory" only
        (".hidden", "application/octet-stream"),
        ("x.unknown-extension", "application/octet-stream"),
        ("photos/", "application/octet-stream"),
        # a key is a name, not a URL: a data: URL has no extension, a "?" is part of the name
        ("data:text/html,<b>x</b>", "application/octet-stream"),
        ("data:text/plain,x", "application/octet-stream"),
        ("report.pdf?x=y.html", "text/html"),
    ],
)
def test_type_by_the_extension_of_the_last_segment(key: str, expected: str) -> None:
    assert content_type_of(key) == expected
