"""Crash consistency of PutObject (issue 3, sections 4 and 5).

Several oss2 clients (``enable_crc``) upload multi-MiB objects with random contents, to new
keys and as overwrites of a few hot keys, while others upload small ones (up to 64 KiB, kept
inline in the metadata store and group-committed) to new keys, to hot keys of their own, to
the large uploaders' hot keys (small over large and large over small) and, one worker each, to
a key only that worker writes; the server is killed with SIGKILL at a random moment; the server
is restarted on the same data directory and then:

* every key with an acknowledged PUT reads back as exactly one of the versions acknowledged or
  in flight for it (MD5 of the whole body; the CRC-64 header and the body agree), never a mix;
* a key only one worker writes holds its last acknowledged version or the one it had in flight
  after that (an acknowledged small write is never lost to the kill);
* a key whose writes were all in flight is absent or one complete version;
* HEAD and the listing give the size of the body, and list no key nobody wrote;
* ``DATA_DIR/objects`` holds no temp file and no blob the metadata (read-only) does not
  reference, and every referenced blob exists, as a file or (small bodies) as an inline row of
  the right size; no inline row belongs to no object.

The kill happens twice, at two different moments, on the same data directory.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import oss2
import oss2.utils

from tests.api.clients import ROOT, FreshServer
from tests.server import TesseraServer

REGION = "cn-hangzhou"
BUCKET = "crash-consistency"
THREADS = 4
SMALL_THREADS = 4
HOT_KEYS = [f"hot/{i}" for i in range(3)]
SMALL_HOT_KEYS = [f"small-hot/{i}" for i in range(3)]
MIN_SIZE = 1 << 20
MAX_SIZE = 5 << 20
SMALL_MAX = 64 << 10  # bodies up to this size are stored inline


@dataclass(frozen=True)
class Version:
    md5: str
    size: int
    crc64: int


@dataclass
class Ledger:
    """What the clients did, per key: versions acknowledged (200) and versions attempted."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    attempted: dict[str, set[Version]] = field(default_factory=lambda: defaultdict(set))
    acked: dict[str, set[Version]] = field(default_factory=lambda: defaultdict(set))
    puts: int = 0
    small_puts: int = 0
    # keys written by one worker only: its last acknowledged version and the one in flight
    sole_acked: dict[str, Version] = field(default_factory=dict)
    sole_in_flight: dict[str, Version] = field(default_factory=dict)


def version_of(data: bytes) -> Version:
    crc = oss2.utils.Crc64(0)
    crc.update(data)
    return Version(hashlib.md5(data).hexdigest(), len(data), int(crc.crc))


def make_bucket(server: TesseraServer) -> oss2.Bucket:
    auth = oss2.Auth(ROOT.access_key_id, ROOT.access_key_secret)
    return oss2.Bucket(auth, server.url, BUCKET, region=REGION, enable_crc=True, connect_timeout=5)


def uploader(
    server: TesseraServer, ledger: Ledger, stop: threading.Event, worker: int, seed: int
) -> None:
    rng = random.Random(seed)
    bucket = make_bucket(server)
    n = 0
    while not stop.is_set():
        if rng.random() < 0.5:
            key = rng.choice(HOT_KEYS)
        else:
            key = f"new/{seed}-{worker}-{n}"
            n += 1
        put(bucket, ledger, stop, key, rng.randbytes(rng.randint(MIN_SIZE, MAX_SIZE)))


def small_uploader(
    server: TesseraServer, ledger: Ledger, stop: threading.Event, worker: int, seed: int
) -> None:
    """Small bodies: overwrites of shared and hot keys, new keys, and a key of its own."""
    rng = random.Random(seed)
    bucket = make_bucket(server)
    own = f"own/{seed}-{worker}"
    n = 0
    while not stop.is_set():
        roll = rng.random()
        if roll < 0.3:
            key = rng.choice(SMALL_HOT_KEYS)
        elif roll < 0.4:
            key = rng.choice(HOT_KEYS)
        elif roll < 0.7:
            key = own
        else:
            key = f"small-new/{seed}-{worker}-{n}"
            n += 1
        data = rng.randbytes(rng.randint(1, SMALL_MAX))
        put(bucket, ledger, stop, key, data, sole=key == own)


def put(
    bucket: oss2.Bucket,
    ledger: Ledger,
    stop: threading.Event,
    key: str,
    data: bytes,
    *,
    sole: bool = False,
) -> None:
    version = version_of(data)
    with ledger.lock:
        ledger.attempted[key].add(version)
        if sole:
            ledger.sole_in_flight[key] = version
    try:
        result = bucket.put_object(key, data)
    except Exception:  # the kill: refused, reset or cut off mid-request
        if stop.is_set():
            return
        raise
    assert result.status == 200
    assert int(result.crc) == version.crc64
    with ledger.lock:
        ledger.acked[key].add(version)
        ledger.puts += 1
        if len(data) <= SMALL_MAX:
            ledger.small_puts += 1
        if sole:
            ledger.sole_acked[key] = version
            del ledger.sole_in_flight[key]


def run_and_kill(server: TesseraServer, ledger: Ledger, delay: float, seed: int) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def target(worker: int) -> None:
        try:
            if worker < THREADS:
                uploader(server, ledger, stop, worker, seed)
            else:
                small_uploader(server, ledger, stop, worker, seed)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = THREADS + SMALL_THREADS
    threads = [threading.Thread(target=target, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    time.sleep(delay)
    stop.set()
    assert server.process is not None
    server.process.kill()
    server.process.wait()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert not errors, errors


def check_objects(server: TesseraServer, ledger: Ledger) -> dict[str, Version]:
    """Every key reads back as one whole candidate version; returns what each key holds."""
    bucket = make_bucket(server)
    listed = {obj.key: obj.size for obj in oss2.ObjectIteratorV2(bucket)}
    assert set(listed) <= set(ledger.attempted), set(listed) - set(ledger.attempted)
    state: dict[str, Version] = {}
    for key, candidates in ledger.attempted.items():
        if key in ledger.acked:
            assert key in listed, f"acknowledged {key} is missing"
        if key not in listed:
            assert not bucket.object_exists(key)
            continue
        result = bucket.get_object(key)
        body = result.read()  # oss2 checks the body's CRC-64 against the header here
        got = version_of(body)
        assert got in candidates, f"{key} holds a version nobody wrote (torn?)"
        assert int(result.headers["x-oss-hash-crc64ecma"]) == got.crc64
        assert result.headers["ETag"].strip('"').lower() == got.md5
        assert listed[key] == got.size
        head = bucket.head_object(key)
        assert head.content_length == got.size
        assert int(head.headers["x-oss-hash-crc64ecma"]) == got.crc64
        state[key] = got
    for key, last in ledger.sole_acked.items():
        allowed = {last, ledger.sole_in_flight.get(key, last)}
        assert state.get(key) in allowed, f"{key} lost its last acknowledged write"
    return state


def check_disk(data_dir: Path) -> None:
    """No temp files; the blob files are exactly the referenced blobs that are not inline, and
    every inline row belongs to an object and has its size."""
    objects = data_dir / "objects"
    leftovers = [p for p in (objects / "tmp").iterdir()]
    assert not leftovers, leftovers
    on_disk = {p.name for p in (objects / "blobs").glob("*/*")}
    db = sqlite3.connect(f"file:{data_dir / 'tessera.db'}?mode=ro", uri=True)
    try:
        referenced = {row[0] for row in db.execute("SELECT blob_id FROM oss_objects")}
        referenced |= {row[0] for row in db.execute("SELECT blob_id FROM oss_parts")}
        sizes = dict(db.execute("SELECT blob_id, size FROM oss_objects").fetchall())
        inline = dict(db.execute("SELECT blob_id, length(data) FROM oss_inline_blobs").fetchall())
    finally:
        db.close()
    assert set(inline) <= referenced, set(inline) - referenced
    files = referenced - set(inline)
    assert on_disk == files, (on_disk - files, files - on_disk)
    for blob_id, size in sizes.items():
        if blob_id in inline:
            assert inline[blob_id] == size
        else:
            assert (objects / "blobs" / blob_id[:2] / blob_id).stat().st_size == size


def test_kill_during_concurrent_puts_leaves_no_torn_object(fresh_server: FreshServer) -> None:
    server = fresh_server()
    data_dir = server.data_dir
    make_bucket(server).create_bucket()
    rng = random.Random(os.urandom(8))
    ledger = Ledger()
    for round_no, (low, high) in enumerate([(1.0, 1.4), (1.5, 2.0)]):
        run_and_kill(server, ledger, rng.uniform(low, high), seed=rng.randrange(1 << 30))
        assert ledger.puts > ledger.small_puts, f"round {round_no}: no large PUT acknowledged"
        assert ledger.small_puts > 0, f"round {round_no}: no small PUT acknowledged"
        pending = sum(len(v - ledger.acked.get(k, set())) for k, v in ledger.attempted.items())
        temps = len(list((data_dir / "objects" / "tmp").iterdir()))
        print(
            f"round {round_no}: {ledger.puts} acked ({ledger.small_puts} small),"
            f" {pending} in flight ({len(ledger.sole_in_flight)} on sole keys),"
            f" {temps} temp files"
        )
        server = fresh_server(data_dir=data_dir)
        check_disk(data_dir)
        state = check_objects(server, ledger)
        # the next round starts from what survived: only it (or a later write) is acceptable
        ledger.attempted = defaultdict(set, {k: {v} for k, v in state.items()})
        ledger.acked = defaultdict(set, {k: {v} for k, v in state.items()})
        ledger.puts = ledger.small_puts = 0
        ledger.sole_acked, ledger.sole_in_flight = {}, {}  # the next round's sole keys are new
