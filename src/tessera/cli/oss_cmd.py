"""``tessera oss mb|rb|ls|cp|rm|presign``: object transfers through the official OSS client."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands; each sets ``run(args, extra) -> exit code``."""
