"""Assembling and running a Tessera node from Settings.

Owns: the data directory (mode 0700) and what lives in it — the master key, the SQLite store,
the one-time root credentials file, the TLS files — the STS token keyring (kept in the store,
encrypted under the master key, rotated on schedule), wiring services together
(``build_runtime``) and serving them (``serve``) with clean shutdown on SIGINT/SIGTERM.
Must not: hold request logic; everything it builds is handed down explicitly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tessera.accesslog import AccessLog
from tessera.blobs import BlobStore, FilesystemBlobStore, WithInlineBlobs
from tessera.clock import Clock, SystemClock
from tessera.config import Settings
from tessera.crypto import Keyring, MasterKey, SecretBox, write_private_file
from tessera.identity.resolve import Authenticator, PolicyResolver
from tessera.identity.service import RamService
from tessera.ids import IdSource, SecureIds
from tessera.listen import AddressInUse, DataDirInUse, ensure_port_free, lock_data_dir
from tessera.oss.app import OssApp
from tessera.oss.exchange import SMALL_BODY_BYTES, OssContext
from tessera.policy import parse_policy
from tessera.rpc import ram_handlers, sts_handlers
from tessera.rpc.actions import ActionTable
from tessera.rpc.app import RpcApp
from tessera.rpc.nonces import NonceGuard, SharedNonceStore
from tessera.store.base import IdentityStore
from tessera.store.oss_base import OssMetadataStore
from tessera.store.oss_sqlite import open_sqlite_oss_store
from tessera.store.sqlite import open_sqlite_store
from tessera.sts.assume_role import AssumeRoleService
from tessera.sts.tokens import TokenService
from tessera.web.server import TesseraApp

log = logging.getLogger("tessera")

MASTER_KEY_FILE = "master.key"
ROOT_CREDENTIALS_FILE = "root-credentials.json"
STORE_FILE = "tessera.db"
OBJECTS_DIR = "objects"
KEYRING_SETTING = "sts.keyring"
KEYRING_ROTATED_SETTING = "sts.keyring.rotated_at"
KEY_ROTATION_SECONDS = 30 * 86400
MAX_TOKEN_LIFETIME = 43200
KEYRING_CHECK_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Services:
    """What RPC handlers reach through ``ctx.services``."""

    store: IdentityStore
    ram: RamService
    assume_role: AssumeRoleService
    clock: Clock


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    store: IdentityStore
    services: Services
    app: TesseraApp
    tokens: TokenService
    authenticator: Authenticator
    box: SecretBox
    clock: Clock
    oss_store: OssMetadataStore
    blobs: BlobStore

    def close(self) -> None:
        self.authenticator.close()
        self.blobs.close()
        # the identity store first: the OSS store's commit stamp holds a descriptor of the
        # shared file's -shm, and closing it drops this process's SQLite locks on that file,
        # which must not happen while any connection of the process is still open
        self.store.close()
        self.oss_store.close()


def prepare_data_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def restrict_store_files(db: Path) -> None:
    """The database and its WAL files readable by the owner only (they hold encrypted
    secrets and every identity); SQLite creates them with the process umask."""
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists():
            path.chmod(0o600)


def load_master_key(settings: Settings) -> MasterKey:
    """The master key from the settings, or from (created once) ``DATA_DIR/master.key``."""
    if settings.master_key is not None:
        return MasterKey.from_text(settings.master_key.reveal())
    path = settings.data_dir / MASTER_KEY_FILE
    if path.exists():
        return MasterKey.from_text(path.read_text().strip())
    key = MasterKey.generate()
    write_private_file(path, key.to_text().encode())
    return key


def read_keyring(store: IdentityStore, box: SecretBox) -> Keyring | None:
    """The token keyring as stored (encrypted under the master key), if there is one."""
    sealed = store.get_setting(KEYRING_SETTING)
    if sealed is None:
        return None
    return Keyring.from_dict(json.loads(box.decrypt(sealed, KEYRING_SETTING)))


def load_keyring(store: IdentityStore, box: SecretBox, now: float) -> Keyring:
    """The token keyring: created on first start, rotated every 30 days, old keys retired
    once every token they sealed has expired. Runs at start and hourly while serving.

    Several nodes sharing one store converge on the stored keyring (a node reloads it when
    a token names a key it has not seen); two nodes rotating in the same instant would race,
    the last write winning — rotate from one node if you run several."""
    stored = read_keyring(store, box)
    keyring = stored if stored is not None else Keyring.generate()
    rotated_at = float(store.get_setting(KEYRING_ROTATED_SETTING) or now)
    changed = stored is None
    if now - rotated_at >= KEY_ROTATION_SECONDS:
        keyring, rotated_at, changed = keyring.rotate(now), now, True
    for kid in keyring.retirable(now, MAX_TOKEN_LIFETIME):
        keyring, changed = keyring.retire(kid), True
    if changed:
        store.put_setting(
            KEYRING_SETTING, box.encrypt(json.dumps(keyring.to_dict()), KEYRING_SETTING)
        )
        store.put_setting(KEYRING_ROTATED_SETTING, str(int(rotated_at)))
    return keyring


def _validate_policy(document: str, kind: str) -> None:
    parse_policy(document, strict=True, kind=kind)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    sweep_orphans: bool = False,
    nonces: NonceGuard | None = None,
) -> Runtime:
    """Wire a node together. ``sweep_orphans`` is for the serving process at start only: an
    admin command run beside a live server must not remove the blob of a write in flight."""
    clock = clock or SystemClock()
    ids = ids or SecureIds()
    prepare_data_dir(settings.data_dir)
    box = SecretBox(load_master_key(settings))
    store = open_sqlite_store(settings.data_dir / STORE_FILE)
    restrict_store_files(settings.data_dir / STORE_FILE)
    tokens = TokenService(load_keyring(store, box, clock.now()))

    def reload_keyring() -> None:
        stored = read_keyring(store, box)
        if stored is not None:
            tokens.update_keyring(stored)

    authenticator = Authenticator(
        store, box.decrypt, tokens, settings.policy_cache_seconds, reload_keyring
    )
    policies = PolicyResolver(store, settings.policy_cache_seconds)

    def invalidate() -> None:
        authenticator.invalidate()
        policies.invalidate()

    ram = RamService(store, clock, ids, box.encrypt, _validate_policy, change_listener=invalidate)
    services = Services(store, ram, AssumeRoleService(store, policies, tokens, ids), clock)
    table = ActionTable()
    ram_handlers.register(table)
    sts_handlers.register(table)
    host_id = f"{settings.host}:{settings.port}"
    rpc = RpcApp(
        table,
        services,
        authenticator,
        policies,
        clock,
        host_id,
        settings.timestamp_window_seconds,
        nonces,
    )
    oss_store, blobs = open_object_storage(settings, sweep=sweep_orphans)
    oss = OssApp(
        OssContext(oss_store, blobs, settings.region),
        authenticator,
        policies,
        clock,
        host_id,
        (settings.domain,),
        settings.tls,
    )
    access_log = AccessLog(sys.stderr if settings.access_log else None)
    app = TesseraApp(rpc, oss, host_id, settings.max_rpc_body_bytes, settings.tls, access_log)
    return Runtime(
        settings, store, services, app, tokens, authenticator, box, clock, oss_store, blobs
    )


def open_object_storage(
    settings: Settings, *, sweep: bool = False
) -> tuple[OssMetadataStore, BlobStore]:
    """The OSS metadata store (same file as identity) and the blobs under ``DATA_DIR/objects``;
    with ``sweep``, first remove blobs no object or part references (a crash between writing a
    blob and committing its row leaves one behind)."""
    oss_store = open_sqlite_oss_store(settings.data_dir / STORE_FILE)
    files = FilesystemBlobStore(settings.data_dir / OBJECTS_DIR)
    removed = files.sweep_orphans(oss_store.blob_is_referenced) if sweep else 0
    if removed:
        log.info("removed %d orphaned blob files", removed)
    blobs = WithInlineBlobs(files, oss_store.read_inline, max_inline_bytes=SMALL_BODY_BYTES)
    return oss_store, blobs


def bootstrap_root(runtime: Runtime) -> dict[str, Any]:
    """Make sure the configured (or a generated) account and root AccessKey exist.

    Generated credentials are printed once and kept in ``DATA_DIR/root-credentials.json``.
    """
    settings = runtime.settings
    cred_file = settings.data_dir / ROOT_CREDENTIALS_FILE
    if settings.root_access_key_id is not None and settings.root_access_key_secret is not None:
        account, key, _ = runtime.services.ram.create_account(
            settings.account_id,
            settings.root_access_key_id,
            settings.root_access_key_secret.reveal(),
        )
        return {
            "account_id": account.account_id,
            "access_key_id": key.access_key_id,
            "source": "environment",
        }
    if cred_file.exists():
        saved = json.loads(cred_file.read_text())
        return {
            "account_id": saved["account_id"],
            "access_key_id": saved["access_key_id"],
            "source": str(cred_file),
        }
    account, key, secret = runtime.services.ram.create_account(settings.account_id)
    saved = {
        "account_id": account.account_id,
        "access_key_id": key.access_key_id,
        "access_key_secret": secret,
    }
    write_private_file(cred_file, (json.dumps(saved, indent=2) + "\n").encode())
    print(
        "Tessera created the account and its root AccessKey (shown only this once; "
        f"also kept in {cred_file}, mode 0600):\n"
        f"  AccountId:       {account.account_id}\n"
        f"  AccessKeyId:     {key.access_key_id}\n"
        f"  AccessKeySecret: {secret}",
        flush=True,
    )
    return {
        "account_id": account.account_id,
        "access_key_id": key.access_key_id,
        "source": "generated",
    }


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("_granian").setLevel(logging.WARNING)
    logging.getLogger("granian").setLevel(logging.WARNING)


def serve(settings: Settings) -> int:
    """Run the server until SIGINT/SIGTERM; returns the process exit code."""
    configure_logging(settings)
    try:
        ensure_port_free(settings.host, settings.port)
        prepare_data_dir(settings.data_dir)
        lock = lock_data_dir(settings.data_dir)  # held until the process exits
    except (AddressInUse, DataDirInUse) as exc:
        print(f"tessera: {exc}", file=sys.stderr, flush=True)
        return 1
    runtime = build_runtime(settings, sweep_orphans=True)
    root = bootstrap_root(runtime)
    ssl_files = None
    if settings.tls:
        from tessera.tls import ensure_tls_files

        ssl_files = ensure_tls_files(
            settings.data_dir / "tls", [settings.host, "localhost", "127.0.0.1"]
        )
        print(
            f"TLS: CA certificate at {ssl_files.ca_cert} (SSL_CERT_FILE / NODE_EXTRA_CA_CERTS)",
            flush=True,
        )
    scheme = "https" if settings.tls else "http"
    workers = f", {settings.workers} workers" if settings.workers > 1 else ""
    print(
        f"Tessera listening on {scheme}://{settings.host}:{settings.port} "
        f"(account {root['account_id']}, root key {root['access_key_id']}, "
        f"region {settings.region}{workers})",
        flush=True,
    )
    if settings.workers > 1:
        runtime.close()  # bootstrap and sweep done here, once; the workers serve
        try:
            return _supervise(settings, ssl_files)
        finally:
            os.close(lock)
    try:
        broker = start_broker(settings, ssl_files)
    except (ValueError, AddressInUse) as exc:  # BrokerSettingsError, or its port is taken
        runtime.close()
        os.close(lock)
        print(f"tessera: broker: {exc}", file=sys.stderr, flush=True)
        return 2 if isinstance(exc, ValueError) else 1
    try:
        _run_loop(_serve(runtime, ssl_files, broker))
    finally:
        runtime.close()
        if broker is not None:
            broker.close()
        os.close(lock)
    return 0


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop when it is installed (the ``speed`` extra; about 10% more
    AssumeRole throughput, bench/results/http_stack.md), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


async def _serve(
    runtime: Runtime, ssl_files: Any, broker: Any = None, *, keep_keyring: bool = True
) -> None:
    from granian.constants import Interfaces
    from granian.server.embed import Server

    settings = runtime.settings
    options: dict[str, Any] = {}
    if ssl_files is not None:
        options.update(ssl_cert=ssl_files.server_cert, ssl_key=ssl_files.server_key)
    server = Server(
        runtime.app,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        websockets=False,
        log_enabled=False,
        backlog=1024,
        **options,
    )
    servers = [server, *_broker_servers(broker)]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop_all, servers)
    flusher = asyncio.create_task(_flush_every(runtime.app.access_log, 0.1))
    # one process rotates the keyring (two rotating at once would race, the last write
    # winning); the others reload it when a token names a key they have not seen
    keeper = (
        asyncio.create_task(_keep_keyring(runtime, KEYRING_CHECK_SECONDS)) if keep_keyring else None
    )
    try:
        await asyncio.gather(*(_serve_one(each, servers) for each in servers))
    finally:
        flusher.cancel()
        if keeper is not None:
            keeper.cancel()
        runtime.app.access_log.flush()


# ---- several serving processes (``serve --workers N``) --------------------------------------

NONCE_FILE = "nonces.db"


def _supervise(settings: Settings, ssl_files: Any) -> int:
    """Run ``settings.workers`` processes that each serve the whole API on the same port
    (granian binds with ``SO_REUSEPORT``; the kernel spreads connections) and the same data
    directory (SQLite in WAL mode, blobs by id), sharing the ``SignatureNonce`` store.
    SIGINT/SIGTERM stop them all; if one dies, the others are stopped and the exit code is 1,
    so a process supervisor restarts the whole server rather than run it half."""
    import multiprocessing
    import multiprocessing.connection

    SharedNonceStore.reset(settings.data_dir / NONCE_FILE)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=_worker, args=(settings, ssl_files, index), name=f"tessera-worker-{index}"
        )
        for index in range(settings.workers)
    ]
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    for process in processes:
        process.start()
    failed = False
    while True:
        running = [process for process in processes if process.is_alive()]
        if not running:
            break
        if len(running) < len(processes) and not stopping:
            dead = [_exit_story(p.name, p.exitcode) for p in processes if not p.is_alive()]
            print(f"tessera: {', '.join(dead)} exited; stopping the others", file=sys.stderr)
            failed = True
            stop()
        multiprocessing.connection.wait([process.sentinel for process in running], timeout=1.0)
    return 1 if failed else 0


def _exit_story(name: str, code: int | None) -> str:
    """``tessera-worker-1 (killed by SIGBUS)``: how a worker ended, for the operator."""
    if code is not None and code < 0:
        try:
            return f"{name} (killed by {signal.Signals(-code).name})"
        except ValueError:
            return f"{name} (killed by signal {-code})"
    return f"{name} (exit code {code})"


def _worker(settings: Settings, ssl_files: Any, index: int) -> None:
    """One serving process of ``_supervise`` (started by ``multiprocessing`` spawn)."""
    configure_logging(settings)
    nonces = SharedNonceStore(settings.data_dir / NONCE_FILE, settings.timestamp_window_seconds)
    runtime = build_runtime(settings, nonces=nonces)
    try:
        _run_loop(_serve(runtime, ssl_files, keep_keyring=index == 0))
    finally:
        runtime.close()
        nonces.close()


# ---- the token broker in-process (``serve --broker-config``; tessera.broker) ----------------


def start_broker(settings: Settings, ssl_files: Any) -> Any:
    """The broker of ``settings.broker_config`` (a ``BrokerRuntime``), or None. Its STS
    endpoint defaults to this server (https with the local CA under ``--tls``)."""
    if settings.broker_config is None:
        return None
    from tessera.broker.config import load_broker_settings
    from tessera.broker.server import build_broker, describe

    scheme = "https" if settings.tls else "http"
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    broker_settings = load_broker_settings(
        settings.broker_config,
        default_sts_endpoint=f"{scheme}://{host}:{settings.port}",
        default_ca_file=ssl_files.ca_cert if ssl_files is not None else None,
    )
    ensure_port_free(broker_settings.host, broker_settings.port)
    broker = build_broker(broker_settings)
    print(describe(broker, broker_settings.host, broker_settings.port), flush=True)
    return broker


def _broker_servers(broker: Any) -> list[Any]:
    if broker is None:
        return []
    from tessera.broker.server import embedded_server

    return [embedded_server(broker.app, broker.settings.host, broker.settings.port)]


def _stop_all(servers: list[Any]) -> None:
    for server in servers:
        server.stop()


async def _serve_one(server: Any, servers: list[Any]) -> None:
    """Serve until stopped; when one listener ends (a signal, or it could not bind), the
    others are stopped too, so the process never runs half of what it was asked to."""
    try:
        await server.serve()
    finally:
        _stop_all([other for other in servers if other is not server])


async def _keep_keyring(runtime: Runtime, seconds: float) -> None:
    """Rotate and retire token keys on schedule while the server runs."""
    while True:
        await asyncio.sleep(seconds)
        try:
            refresh_keyring(runtime)
        except Exception:  # a failed rotation must not stop the server; tokens still verify
            log.exception("token keyring maintenance failed")


def refresh_keyring(runtime: Runtime) -> None:
    keyring = load_keyring(runtime.store, runtime.box, runtime.clock.now())
    if keyring.kids != runtime.tokens.keyring.kids or (
        keyring.current.kid != runtime.tokens.keyring.current.kid
    ):
        runtime.tokens.update_keyring(keyring)


async def _flush_every(access_log: AccessLog, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        access_log.flush()


def create_account(settings: Settings, account_id: str | None) -> dict[str, Any]:
    runtime = build_runtime(settings)
    try:
        account, key, secret = runtime.services.ram.create_account(account_id)
        return {
            "AccountId": account.account_id,
            "AccessKeyId": key.access_key_id,
            "AccessKeySecret": secret,
        }
    finally:
        runtime.close()


def list_accounts(settings: Settings) -> list[str]:
    runtime = build_runtime(settings)
    try:
        return [account.account_id for account in runtime.store.list_accounts()]
    finally:
        runtime.close()
