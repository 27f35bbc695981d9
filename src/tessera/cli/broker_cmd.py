"""``tessera broker``: run the token broker standalone (see ``tessera.broker``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands; each sets ``run(args, extra) -> exit code``."""
