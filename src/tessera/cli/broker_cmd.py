"""``tessera broker``: run the token broker standalone (see ``tessera.broker``), and its helpers.

- ``tessera broker --config broker.toml [--host H] [--port P]`` serves until SIGINT/SIGTERM.
- ``tessera broker hash-key [--user-id U]`` makes a new API key and prints it once with the
  ``[[api_keys]]`` entry to paste into the config (which keeps only its SHA-256);
  ``--stdin`` hashes an existing key read from standard input instead (never from argv,
  which shell history and ``ps`` would keep).
- ``tessera broker audit FILE [--access-key-id ID] [--user-id U]`` prints the audit records
  that match, e.g. to find the app user behind an AccessKeyId in an OSS access log.

Owns: these flags and what they print. The API key is printed because making it is the
command's purpose; nothing else here prints a secret.
Must not: hold broker logic (``tessera.broker``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def fail(message: str, code: int = 1) -> int:
    print(f"tessera: {message}", file=sys.stderr)
    return code


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands; each sets ``run(args, extra) -> exit code``."""
    broker = commands.add_parser(
        "broker",
        help="run the token broker (app server) for mobile and web apps",
        description="Authenticate app users, fill a policy template, call STS AssumeRole and "
        "hand out the scoped token (credentials_uri or OSS mobile SDK JSON).",
    )
    broker.add_argument("--config", type=Path, help="broker.toml (see examples/broker/)")
    broker.add_argument("--host", help="listen address (default from the config, 127.0.0.1)")
    broker.add_argument("--port", type=int, help="listen port (default from the config, 9810)")
    broker.set_defaults(run=_run_serve)
    sub = broker.add_subparsers(dest="broker_command")

    hash_key = sub.add_parser(
        "hash-key",
        help="make an API key and print its [[api_keys]] entry",
        description="Print a new API key (shown once) and the key_sha256 the config keeps.",
    )
    hash_key.add_argument("--user-id", default="APP_USER_ID", help="app user id for the entry")
    hash_key.add_argument(
        "--stdin", action="store_true", help="hash an existing key read from standard input"
    )
    hash_key.set_defaults(run=_run_hash_key)

    audit = sub.add_parser(
        "audit",
        help="search the audit log of issued tokens",
        description="Print matching audit records (JSON lines), oldest first.",
    )
    audit.add_argument("file", type=Path, help="the broker's audit.jsonl (in its data_dir)")
    audit.add_argument("--access-key-id", help="only the token with this AccessKeyId")
    audit.add_argument("--user-id", help="only tokens of this app user")
    audit.set_defaults(run=_run_audit)


def _run_serve(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        return fail(f"broker: unrecognized arguments: {' '.join(extra)}", 2)
    if args.config is None:
        return fail("broker: --config broker.toml is required (see examples/broker/)", 2)
    from tessera.broker.config import BrokerSettingsError, load_broker_settings
    from tessera.broker.server import run

    try:
        settings = load_broker_settings(
            args.config, overrides={"host": args.host, "port": args.port}
        )
    except BrokerSettingsError as exc:
        return fail(f"broker: {exc}", 2)
    return run(settings)


def _run_hash_key(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        return fail(f"broker hash-key: unrecognized arguments: {' '.join(extra)}", 2)
    from tessera.broker.auth import check_api_key_strength, generate_api_key, hash_api_key

    if args.stdin:
        key = sys.stdin.readline().strip()
        try:
            check_api_key_strength(key)
        except ValueError as exc:
            return fail(f"broker hash-key: {exc}", 2)
    else:
        key = generate_api_key()
        print(f"API key (shown once; give it to the app user): {key}")
    print(f'[[api_keys]]\nuser_id = "{args.user_id}"\nkey_sha256 = "{hash_api_key(key)}"')
    return 0


def _run_audit(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        return fail(f"broker audit: unrecognized arguments: {' '.join(extra)}", 2)
    from tessera.broker.audit import read_audit

    try:
        found = 0
        for record in read_audit(args.file):
            if args.access_key_id and record.get("access_key_id") != args.access_key_id:
                continue
            if args.user_id and record.get("user_id") != args.user_id:
                continue
            print(json.dumps(record, ensure_ascii=False))
            found += 1
    except OSError as exc:
        return fail(f"broker audit: {args.file}: {exc.strerror}")
    return 0 if found else 1
