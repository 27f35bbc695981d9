"""The ``tessera`` command: ``serve`` and the admin commands.

Owns: argument parsing and the mapping from flags to ``Settings`` overrides; printing what an
operator needs to see (never a secret except the one-time bootstrap credentials).
Must not: contain server or business logic; it calls ``tessera.runtime``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tessera import __version__
from tessera.cli import broker_cmd, openapi_cmd, oss_cmd, policy_cmd
from tessera.config import SettingsError, load_settings
from tessera.errors import TesseraError


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML config file (section [tessera])")
    parser.add_argument("--data-dir", type=Path, help="state directory (default ./tessera-data)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tessera",
        description="Self-hosted, Alibaba Cloud-compatible RAM, STS and OSS: the server, the token "
        "broker and an aliyun-style CLI.",
    )
    parser.add_argument("--version", action="version", version=f"tessera {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server on the embedded defaults")
    _server_flags(serve)
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 9800)")
    serve.add_argument(
        "--region", help="region id served and checked in V4 signatures (default cn-hangzhou)"
    )
    serve.add_argument("--domain", help="OSS virtual-host domain (default oss.localhost)")
    serve.add_argument(
        "--tls",
        action="store_true",
        default=None,
        help="serve HTTPS with a certificate from a local CA kept in the data directory",
    )
    serve.add_argument("--no-access-log", dest="access_log", action="store_false", default=None)
    serve.add_argument(
        "--broker-config",
        type=Path,
        help="broker.toml: also run the token broker in-process on its own port (development)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="serving processes sharing the port and the data directory (default 1)",
    )

    account = commands.add_parser("account", help="manage accounts (admin, works on the data dir)")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    create = account_commands.add_parser("create", help="add an account with a root AccessKey")
    _server_flags(create)
    create.add_argument("--account-id", help="16 digits (generated when omitted)")
    account_commands.add_parser("list", help="list accounts").set_defaults()
    _server_flags(account_commands.choices["list"])

    # client-side commands: each module registers its own subcommands and sets `run`
    for module in (broker_cmd, openapi_cmd, oss_cmd, policy_cmd):
        module.register(commands)
    return parser


def _settings(args: argparse.Namespace) -> object:
    overrides = {
        name: getattr(args, name, None)
        for name in (
            "data_dir",
            "host",
            "port",
            "region",
            "domain",
            "tls",
            "access_log",
            "broker_config",
            "workers",
        )
    }
    return load_settings(config_path=args.config, overrides=overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    run: Callable[[argparse.Namespace, list[str]], int] | None = getattr(args, "run", None)
    if run is not None:
        try:
            return run(args, extra)
        except BrokenPipeError:  # `tessera ram ListUsers | head`: the reader left; say nothing
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"tessera: {exc}", file=sys.stderr)
        return 2
    from tessera import runtime  # imported late: `tessera --help` stays instant

    if args.command == "serve":
        return runtime.serve(settings)  # type: ignore[arg-type]
    if args.command == "account" and args.account_command == "create":
        try:
            created = runtime.create_account(settings, args.account_id)  # type: ignore[arg-type]
        except TesseraError as exc:
            print(f"tessera: account {args.account_id or ''}: {exc.message}", file=sys.stderr)
            return 1
        print(json.dumps(created, indent=2))
        return 0
    if args.command == "account" and args.account_command == "list":
        for account_id in runtime.list_accounts(settings):  # type: ignore[arg-type]
            print(account_id)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
