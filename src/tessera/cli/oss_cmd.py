"""``tessera oss mb|rb|ls|cp|rm|presign``: object transfers through the official OSS client.

Modelled on ``ossutil``. Every request goes through ``alibabacloud_oss_v2`` (V4 signatures
with the profile's region, path-style addressing); large transfers use the SDK's uploader,
downloader and copier, with their checkpoint files so an interrupted ``cp`` resumes when rerun.

Owns: argument parsing of the ``oss`` commands, the walk over local trees and listings for
recursive commands, progress bars (stderr) and output (stdout: text or ``--output json``),
and the mapping of SDK errors to ``Code: Message (RequestId …)`` with exit code 1.
Must not: sign requests or split multipart uploads itself (the SDK does), print a secret, or
write a local file outside the destination directory (``oss_paths`` decides the names).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from types import FrameType
from typing import Any, NoReturn

from tessera.cli.oss_paths import (
    OssPathError,
    OssUrl,
    UnsafeKeyError,
    directory_prefix,
    is_directory_marker,
    is_oss_url,
    key_for_file_destination,
    key_for_upload,
    parse_oss_url,
    parse_size,
    relative_key,
    safe_relative_path,
    selected,
)
from tessera.cli.output import print_json
from tessera.cli.profiles import Profile, ProfileError, add_profile_flags, resolve_profile

DEFAULT_CHECKPOINT_DIR = "~/.tessera/checkpoints"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # V4 limit
DELETE_BATCH = 1000  # DeleteMultipleObjects takes at most 1000 keys


class UsageError(Exception):
    """A mistake in the command line; exit code 2."""


class TransferFailed(Exception):
    """Some objects of a recursive command failed (each was reported); exit code 1."""


# ---- registration -----------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands; each sets ``run(args, extra) -> exit code``."""
    oss = commands.add_parser(
        "oss",
        help="buckets and objects: mb, rb, ls, cp, rm, presign (ossutil style)",
        description="Object storage commands through the official OSS client (V4 signatures).",
        epilog="For an https endpoint whose certificate comes from Tessera's own CA, point "
        "REQUESTS_CA_BUNDLE at <data-dir>/tls/ca.pem.",
    )
    sub = oss.add_subparsers(dest="oss_command", required=True, metavar="COMMAND")

    mb = _command(sub, "mb", "make a bucket")
    mb.add_argument("url", metavar="oss://bucket")
    mb.add_argument("--acl", choices=("private", "public-read", "public-read-write"))
    mb.add_argument("--storage-class", choices=("Standard", "IA", "Archive", "ColdArchive"))

    rb = _command(sub, "rb", "remove a bucket")
    rb.add_argument("url", metavar="oss://bucket")
    rb.add_argument(
        "--force",
        action="store_true",
        help="first delete every object and abort every multipart upload in the bucket",
    )

    ls = _command(sub, "ls", "list buckets (oss://) or objects (oss://bucket[/prefix])")
    ls.add_argument("url", nargs="?", default="oss://", metavar="oss://[bucket[/prefix]]")
    ls.add_argument(
        "-d", "--directory", action="store_true", help="one level only: prefixes end at '/'"
    )
    ls.add_argument("--limit", type=_positive_int, metavar="N", help="list at most N entries")
    _output_flag(ls)

    cp = _command(sub, "cp", "copy local <-> oss://bucket/key, or oss -> oss (server side)")
    cp.add_argument("source")
    cp.add_argument("destination")
    cp.add_argument("-r", "--recursive", action="store_true", help="copy a directory / prefix")
    cp.add_argument(
        "--part-size",
        type=_size,
        metavar="SIZE",
        help="multipart part size, e.g. 8M (SDK default: 6 MiB up/down, 64 MiB copy); "
        "files of at least this size are sent in parts",
    )
    cp.add_argument(
        "--parallel", type=_positive_int, metavar="N", help="parts in flight (default 3)"
    )
    cp.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        default=DEFAULT_CHECKPOINT_DIR,
        help=f"where resumable transfers keep their state (default {DEFAULT_CHECKPOINT_DIR})",
    )
    _filter_flags(cp)
    _progress_flags(cp)

    rm = _command(sub, "rm", "remove an object, or every object below a prefix (-r)")
    rm.add_argument("url", metavar="oss://bucket/key")
    rm.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="remove every object below the prefix (taken as a directory: 'a' means 'a/')",
    )
    _filter_flags(rm)
    rm.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")

    presign = _command(sub, "presign", "print a presigned URL (V4)")
    presign.add_argument("url", metavar="oss://bucket/key")
    presign.add_argument(
        "--expires",
        type=_positive_int,
        default=3600,
        metavar="SECONDS",
        help=f"validity in seconds (default 3600, at most {MAX_PRESIGN_SECONDS})",
    )
    presign.add_argument("--method", choices=("GET", "PUT", "HEAD"), default="GET")
    presign.add_argument("--content-type", help="PUT: the Content-Type the upload must send")
    _output_flag(presign)


def _command(
    sub: argparse._SubParsersAction[Any], name: str, summary: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=summary)
    add_profile_flags(parser)
    parser.set_defaults(run=run)
    return parser


def _output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", choices=("text", "json"), default="text")


def _filter_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="recursive: only file names matching (repeatable)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="recursive: skip file names matching (repeatable)",
    )


def _progress_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show the progress bar even when stderr is not a terminal",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no per-file lines"
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _size(text: str) -> int:
    try:
        value = parse_size(text)
    except OssPathError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


# ---- running ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, extra: list[str]) -> int:
    """Run one ``tessera oss`` command; exit 0, 1 (service/transfer error) or 2 (usage)."""
    command = f"tessera oss {args.oss_command}"
    if extra:
        return _fail(command, f"unrecognized arguments: {' '.join(extra)}", 2)
    profile: Profile | None = None
    try:
        profile = resolve_profile(args)
        profile.credentials()  # surface profile problems (and a failed AssumeRole) up front
        return HANDLERS[args.oss_command](_Context(profile, args), args)
    except (UsageError, OssPathError, ProfileError) as exc:
        return _fail(command, str(exc), 2)
    except TransferFailed as exc:
        return _fail(command, str(exc), 1)
    except KeyboardInterrupt:
        return _fail(command, "interrupted", 130)
    except Exception as exc:
        message = describe_error(exc)
        if message is None:
            raise
        if profile is not None and _is_request_error(exc):
            message = f"cannot reach {profile.url}: {message}"
        return _fail(command, message, 2 if _is_invalid_argument(exc) else 1)


def _fail(command: str, message: str, code: int) -> int:
    print(f"{command}: {message}", file=sys.stderr)
    return code


def _error_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: the SDK nests errors (``OperationError`` → ``ServiceError``,
    ``UploadError`` → ``OperationError`` → …) behind ``unwrap()``, others use ``__cause__``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        unwrap = getattr(current, "unwrap", None)
        inner = unwrap() if callable(unwrap) else None
        current = inner if isinstance(inner, BaseException) else current.__cause__


def describe_error(exc: BaseException) -> str | None:
    """``Code: Message (HTTP status, RequestId …)`` for an OSS service error anywhere in the
    chain; the innermost message for other SDK failures (connection refused, a refused name)
    and local file errors; ``None`` for a programming error, which is left to raise."""
    oss = _sdk()
    chain = list(_error_chain(exc))
    for error in chain:
        if isinstance(error, oss.exceptions.ServiceError):
            message = f"{error.code or 'Error'}: {error.message or ''} (HTTP {error.status_code}"
            if error.request_id:
                message += f", RequestId {error.request_id}"
            return message + ")"
    if isinstance(exc, oss.exceptions.BaseError):
        return str(chain[-1]).strip() or type(chain[-1]).__name__
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None


def _is_request_error(exc: BaseException) -> bool:
    """The request never got an HTTP answer (connection refused, TLS, timeout)."""
    oss = _sdk()
    return any(isinstance(e, oss.exceptions.RequestError) for e in _error_chain(exc))


def _is_invalid_argument(exc: BaseException) -> bool:
    """The SDK refused a bucket name, key or parameter before sending: a usage error."""
    oss = _sdk()
    errors = oss.exceptions
    invalid = (
        errors.BucketNameInvalidError,
        errors.ObjectNameInvalidError,
        errors.ParamInvalidError,
        errors.ParamNullError,
        errors.ParamNullOrEmptyError,
        errors.ParamRequiredError,
    )
    return isinstance(list(_error_chain(exc))[-1], invalid)


class _Context:
    """The profile, the SDK client (built on first use) and the output switches."""

    def __init__(self, profile: Profile, args: argparse.Namespace) -> None:
        self.profile = profile
        self.quiet: bool = bool(getattr(args, "quiet", False))
        self.show_progress: bool = not self.quiet and (
            bool(getattr(args, "progress", False)) or sys.stderr.isatty()
        )
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.profile)
        return self._client

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def warn(self, line: str) -> None:
        print(f"tessera oss: {line}", file=sys.stderr, flush=True)


def make_client(profile: Profile) -> Any:
    """An ``alibabacloud_oss_v2.Client`` for the profile: V4 with its region, path style,
    credentials asked from ``profile.credentials()`` (so StsToken and RamRoleArn work; the
    profile caches assumed-role credentials and renews them before they expire)."""
    oss = _sdk()

    def credentials() -> Any:
        creds = profile.credentials()
        return oss.credentials.Credentials(
            creds.access_key_id, creds.access_key_secret, creds.security_token
        )

    config = oss.config.load_default()
    config.credentials_provider = oss.credentials.CredentialsProviderFunc(credentials)
    config.region = profile.region_id
    config.endpoint = profile.url
    config.use_path_style = True
    config.signature_version = "v4"
    return oss.Client(config)


def _sdk() -> Any:
    """``alibabacloud_oss_v2``, imported on first use so ``tessera --help`` stays quick."""
    import alibabacloud_oss_v2  # type: ignore[import-untyped]

    return alibabacloud_oss_v2


def _models() -> Any:
    return _sdk().models


def _bucket_url(text: str, *, key_allowed: bool = False) -> OssUrl:
    url = parse_oss_url(text)
    if not url.bucket:
        raise UsageError(f"a bucket is needed: {text!r}")
    if url.key and not key_allowed:
        raise UsageError(f"a bucket, not an object, is expected: {text!r}")
    return url


# ---- mb / rb ----------------------------------------------------------------------------------


def cmd_mb(ctx: _Context, args: argparse.Namespace) -> int:
    url = _bucket_url(args.url)
    models = _models()
    request = models.PutBucketRequest(bucket=url.bucket, acl=args.acl)
    if args.storage_class:
        request.create_bucket_configuration = models.CreateBucketConfiguration(
            storage_class=args.storage_class
        )
    ctx.client.put_bucket(request)
    ctx.say(f"made bucket {url}")
    return 0


def cmd_rb(ctx: _Context, args: argparse.Namespace) -> int:
    url = _bucket_url(args.url)
    models = _models()
    if args.force:
        removed = _remove_prefix(ctx, url.bucket, "", (), ())
        aborted = _abort_uploads(ctx, url.bucket)
        if removed or aborted:
            ctx.say(f"removed {removed} objects and aborted {aborted} multipart uploads")
    ctx.client.delete_bucket(models.DeleteBucketRequest(bucket=url.bucket))
    ctx.say(f"removed bucket {url}")
    return 0


def _abort_uploads(ctx: _Context, bucket: str) -> int:
    models = _models()
    aborted = 0
    paginator = ctx.client.list_multipart_uploads_paginator()
    for page in paginator.iter_page(models.ListMultipartUploadsRequest(bucket=bucket)):
        for upload in page.uploads or []:
            ctx.client.abort_multipart_upload(
                models.AbortMultipartUploadRequest(
                    bucket=bucket, key=upload.key, upload_id=upload.upload_id
                )
            )
            aborted += 1
    return aborted


# ---- ls ---------------------------------------------------------------------------------------


def _time(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None if value is None else str(value)


def _etag(value: Any) -> str | None:
    return None if value is None else str(value).strip('"')


def cmd_ls(ctx: _Context, args: argparse.Namespace) -> int:
    url = parse_oss_url(args.url)
    if not url.bucket:
        return _list_buckets(ctx, args)
    return _list_objects(ctx, args, url)


def _list_buckets(ctx: _Context, args: argparse.Namespace) -> int:
    models = _models()
    buckets: list[dict[str, Any]] = []
    paginator = ctx.client.list_buckets_paginator()
    for page in paginator.iter_page(models.ListBucketsRequest()):
        for bucket in page.buckets or []:
            buckets.append(
                {
                    "name": bucket.name,
                    "location": bucket.location,
                    "region": bucket.region,
                    "creation_date": _time(bucket.creation_date),
                    "storage_class": bucket.storage_class,
                }
            )
            if args.limit is not None and len(buckets) >= args.limit:
                break
        if args.limit is not None and len(buckets) >= args.limit:
            break
    if args.output == "json":
        print_json({"buckets": buckets})
        return 0
    if buckets:
        print(f"{'CreationTime':<22}{'Location':<20}{'StorageClass':<14}BucketName")
    for b in buckets:
        print(
            f"{b['creation_date'] or '-':<22}{b['location'] or '-':<20}"
            f"{b['storage_class'] or '-':<14}oss://{b['name']}"
        )
    print(f"Bucket Number is: {len(buckets)}")
    return 0


def _list_objects(ctx: _Context, args: argparse.Namespace, url: OssUrl) -> int:
    objects: list[dict[str, Any]] = []
    prefixes: list[str] = []
    delimiter = "/" if args.directory else None
    for page in _object_pages(ctx, url.bucket, url.key, delimiter):
        for prefix in page.common_prefixes or []:
            prefixes.append(prefix.prefix)
        for item in page.contents or []:
            objects.append(
                {
                    "key": item.key,
                    "size": item.size,
                    "last_modified": _time(item.last_modified),
                    "etag": _etag(item.etag),
                    "storage_class": item.storage_class,
                    "type": item.object_type,
                }
            )
        if args.limit is not None and len(objects) + len(prefixes) >= args.limit:
            break
    if args.limit is not None:
        prefixes = prefixes[: args.limit]
        objects = objects[: max(0, args.limit - len(prefixes))]
    if args.output == "json":
        document = {"bucket": url.bucket, "prefix": url.key, "objects": objects}
        if args.directory:
            document["prefixes"] = prefixes
        print_json(document)
        return 0
    if objects:
        print(f"{'LastModified':<22}{'Size(B)':>14}  {'StorageClass':<14}{'ETag':<38}ObjectName")
    for o in objects:
        print(
            f"{o['last_modified'] or '-':<22}{o['size']:>14}  {o['storage_class'] or '-':<14}"
            f"{o['etag'] or '-':<38}oss://{url.bucket}/{o['key']}"
        )
    for prefix in prefixes:
        print(f"oss://{url.bucket}/{prefix}")
    if args.directory:
        print(f"Object and Directory Number is: {len(objects) + len(prefixes)}")
    else:
        print(f"Object Number is: {len(objects)}")
    return 0


def _object_pages(
    ctx: _Context, bucket: str, prefix: str, delimiter: str | None = None
) -> Iterator[Any]:
    models = _models()
    paginator = ctx.client.list_objects_v2_paginator()
    request = models.ListObjectsV2Request(bucket=bucket, prefix=prefix or None)
    if delimiter:
        request.delimiter = delimiter
    yield from paginator.iter_page(request)


def _objects_below(ctx: _Context, bucket: str, prefix: str) -> Iterator[Any]:
    for page in _object_pages(ctx, bucket, prefix):
        yield from page.contents or []


# ---- rm ---------------------------------------------------------------------------------------


def cmd_rm(ctx: _Context, args: argparse.Namespace) -> int:
    url = _bucket_url(args.url, key_allowed=True)
    models = _models()
    if not args.recursive:
        if not url.key:
            raise UsageError("no object key: use rm -r to empty a prefix, rb to remove a bucket")
        ctx.client.delete_object(models.DeleteObjectRequest(bucket=url.bucket, key=url.key))
        ctx.say(f"removed {url}")
        return 0
    removed = _remove_prefix(ctx, url.bucket, directory_prefix(url.key), args.include, args.exclude)
    ctx.say(f"removed {removed} objects below {OssUrl(url.bucket, directory_prefix(url.key))}")
    return 0


def _remove_prefix(
    ctx: _Context, bucket: str, prefix: str, include: Sequence[str], exclude: Sequence[str]
) -> int:
    """DeleteMultipleObjects, one request per listing page (at most 1000 keys each)."""
    models = _models()
    removed = 0
    for page in _object_pages(ctx, bucket, prefix):
        keys = [
            item.key
            for item in page.contents or []
            if selected(relative_key(item.key, prefix), include, exclude)
        ]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            ctx.client.delete_multiple_objects(
                models.DeleteMultipleObjectsRequest(
                    bucket=bucket,
                    objects=[models.DeleteObject(key=key) for key in batch],
                    quiet=True,
                )
            )
            removed += len(batch)
    return removed


# ---- presign ----------------------------------------------------------------------------------


def cmd_presign(ctx: _Context, args: argparse.Namespace) -> int:
    url = _bucket_url(args.url, key_allowed=True)
    if not url.key or url.key.endswith("/"):
        raise UsageError(f"an object key is needed: {args.url!r}")
    if args.expires > MAX_PRESIGN_SECONDS:
        raise UsageError(f"--expires is at most {MAX_PRESIGN_SECONDS} seconds (V4)")
    if args.content_type and args.method != "PUT":
        raise UsageError("--content-type only applies to --method PUT")
    models = _models()
    request: Any
    if args.method == "GET":
        request = models.GetObjectRequest(bucket=url.bucket, key=url.key)
    elif args.method == "HEAD":
        request = models.HeadObjectRequest(bucket=url.bucket, key=url.key)
    else:
        request = models.PutObjectRequest(
            bucket=url.bucket, key=url.key, content_type=args.content_type
        )
    result = ctx.client.presign(request, expires=dt.timedelta(seconds=args.expires))
    if args.output == "json":
        document = {
            "url": result.url,
            "method": result.method,
            "expiration": _time(result.expiration),
            "signed_headers": dict(result.signed_headers or {}),
        }
        print_json(document)
    else:
        print(result.url)
    return 0


# ---- cp ---------------------------------------------------------------------------------------


class Progress:
    """One tqdm bar on stderr over all bytes of a command; each transfer reports through its
    own callback (the SDK passes ``(increment, transferred, total)``; ``transferred`` includes
    what a resumed transfer had done before, so the bar counts it too)."""

    def __init__(self, enabled: bool, total: int | None, label: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            disable=not enabled,
            desc=label,
            dynamic_ncols=True,
            leave=True,
        )

    def callback(self) -> Callable[[int, int, int], None]:
        done = 0

        def report(increment: int, transferred: int, total: int) -> None:
            nonlocal done
            delta = transferred - done
            done = transferred
            if delta > 0:
                self._bar.update(delta)

        return report

    def close(self) -> None:
        self._bar.close()


@dataclass
class _Transfer:
    """The SDK transfer options of one ``cp`` invocation."""

    part_size: int | None
    parallel: int | None
    checkpoint_dir: str

    def kwargs(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "enable_checkpoint": True,
            # the SDK takes the *dirname* of checkpoint_dir: hand it "dir/"
            "checkpoint_dir": self.checkpoint_dir.rstrip(os.sep) + os.sep,
        }
        if self.part_size is not None:
            options["part_size"] = self.part_size
        if self.parallel is not None:
            options["parallel_num"] = self.parallel
        return options


def _interrupted(signum: int, frame: FrameType | None) -> NoReturn:
    """Ctrl-C during a transfer: the SDK's worker threads would keep sending queued parts,
    so leave at once; the checkpoint file already holds what a rerun needs to resume."""
    sys.stderr.write(
        "\ntessera oss cp: interrupted; run the same command again to resume the transfer\n"
    )
    sys.stderr.flush()
    os._exit(130)


def cmd_cp(ctx: _Context, args: argparse.Namespace) -> int:
    src_remote, dst_remote = is_oss_url(args.source), is_oss_url(args.destination)
    if not src_remote and not dst_remote:
        raise UsageError("one side must be an oss:// URL (use cp for local copies)")
    checkpoint_dir = Path(args.checkpoint_dir).expanduser()
    transfer = _Transfer(args.part_size, args.parallel, str(checkpoint_dir))
    if not (src_remote and dst_remote):
        checkpoint_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGINT, _interrupted)
    try:
        if not src_remote:
            return _upload(
                ctx,
                args,
                Path(args.source),
                _bucket_url(args.destination, key_allowed=True),
                transfer,
            )
        source = _bucket_url(args.source, key_allowed=True)
        if dst_remote:
            return _copy(
                ctx, args, source, _bucket_url(args.destination, key_allowed=True), transfer
            )
        return _download(ctx, args, source, args.destination, transfer)
    finally:
        signal.signal(signal.SIGINT, previous)


def _upload(
    ctx: _Context, args: argparse.Namespace, source: Path, dest: OssUrl, transfer: _Transfer
) -> int:
    if args.recursive:
        if not source.is_dir():
            raise UsageError(f"not a directory: {str(source)!r}")
        files = list(_local_files(ctx, source, args.include, args.exclude))
        jobs = [(path, dest.bucket, key_for_upload(dest.key, rel)) for path, rel in files]
    else:
        if source.is_dir():
            raise UsageError(f"{str(source)!r} is a directory (use -r)")
        if not source.is_file():
            raise UsageError(f"no such file: {str(source)!r}")
        jobs = [(source, dest.bucket, key_for_file_destination(dest.key, source.name))]
    total = sum(path.stat().st_size for path, _, _ in jobs)
    models = _models()
    uploader = ctx.client.uploader(**transfer.kwargs())
    progress = Progress(ctx.show_progress, total, "upload")
    failures = 0
    try:
        for path, bucket, key in jobs:
            request = models.PutObjectRequest(
                bucket=bucket, key=key, progress_fn=progress.callback()
            )
            try:
                uploader.upload_file(request, str(path))
            except Exception as exc:
                failures += _report_or_raise(ctx, args.recursive, exc, f"upload {path}")
                continue
            ctx.say(f"upload: {path} -> oss://{bucket}/{key}")
    finally:
        progress.close()
    return _finish(failures, len(jobs), "upload")


def _local_files(
    ctx: _Context, root: Path, include: Sequence[str], exclude: Sequence[str]
) -> Iterator[tuple[Path, PurePath]]:
    """Regular files below ``root`` in a stable order, with their relative paths; symbolic
    links to directories are not followed (no loops), other special files are skipped."""
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory) / name
            relative = path.relative_to(root)
            if not selected(relative.as_posix(), include, exclude):
                continue
            if not path.is_file():
                ctx.warn(f"skipping {path}: not a regular file")
                continue
            yield path, relative


def _download(
    ctx: _Context, args: argparse.Namespace, source: OssUrl, destination: str, transfer: _Transfer
) -> int:
    jobs: list[tuple[str, Path, int]] = []
    skipped = 0
    if args.recursive:
        dest_dir = Path(destination)
        prefix = directory_prefix(source.key)
        for item in _objects_below(ctx, source.bucket, prefix):
            rel = relative_key(item.key, prefix)
            if not rel or not selected(rel, args.include, args.exclude):
                continue
            try:
                local = dest_dir / safe_relative_path(rel)
            except UnsafeKeyError as exc:
                ctx.warn(f"skipping oss://{source.bucket}/{item.key}: {exc}")
                skipped += 1
                continue
            if is_directory_marker(item.key):
                local.mkdir(parents=True, exist_ok=True)
                continue
            jobs.append((item.key, local, int(item.size or 0)))
    else:
        if not source.key or is_directory_marker(source.key):
            raise UsageError(f"{source} is not an object (use -r for a prefix)")
        local = Path(destination)
        if destination.endswith(("/", os.sep)) or local.is_dir():
            try:
                name = safe_relative_path(source.key.rsplit("/", 1)[-1])
            except UnsafeKeyError as exc:
                raise UsageError(f"{source}: no safe file name ({exc}); name the file") from None
            local = local / name
        head = ctx.client.head_object(
            _models().HeadObjectRequest(bucket=source.bucket, key=source.key)
        )
        jobs.append((source.key, local, int(head.content_length or 0)))
    models = _models()
    downloader = ctx.client.downloader(use_temp_file=True, **transfer.kwargs())
    progress = Progress(ctx.show_progress, sum(size for _, _, size in jobs), "download")
    failures = 0
    try:
        for key, local, _ in jobs:
            request = models.GetObjectRequest(
                bucket=source.bucket, key=key, progress_fn=progress.callback()
            )
            try:
                local.parent.mkdir(parents=True, exist_ok=True)
                downloader.download_file(request, str(local))
            except Exception as exc:
                failures += _report_or_raise(
                    ctx, args.recursive, exc, f"download oss://{source.bucket}/{key}"
                )
                continue
            ctx.say(f"download: oss://{source.bucket}/{key} -> {local}")
    finally:
        progress.close()
    if skipped:
        raise TransferFailed(
            f"{skipped} object(s) skipped: their keys would leave {str(destination)!r}"
            + (f"; {failures} failed" if failures else "")
        )
    return _finish(failures, len(jobs), "download")


def _copy(
    ctx: _Context, args: argparse.Namespace, source: OssUrl, dest: OssUrl, transfer: _Transfer
) -> int:
    jobs: list[tuple[str, str]] = []
    if args.recursive:
        prefix = directory_prefix(source.key)
        for item in _objects_below(ctx, source.bucket, prefix):
            rel = relative_key(item.key, prefix)
            if rel and selected(rel, args.include, args.exclude):
                jobs.append((item.key, directory_prefix(dest.key) + rel))
    else:
        if not source.key or is_directory_marker(source.key):
            raise UsageError(f"{source} is not an object (use -r for a prefix)")
        jobs.append((source.key, key_for_file_destination(dest.key, source.key.rsplit("/", 1)[-1])))
    models = _models()
    options: dict[str, Any] = {}
    if transfer.part_size is not None:
        options["part_size"] = transfer.part_size
    if transfer.parallel is not None:
        options["parallel_num"] = transfer.parallel
    copier = ctx.client.copier(**options)
    failures = 0
    for source_key, key in jobs:
        request = models.CopyObjectRequest(
            bucket=dest.bucket, key=key, source_bucket=source.bucket, source_key=source_key
        )
        try:
            copier.copy(request)
        except Exception as exc:
            failures += _report_or_raise(
                ctx, args.recursive, exc, f"copy oss://{source.bucket}/{source_key}"
            )
            continue
        ctx.say(f"copy: oss://{source.bucket}/{source_key} -> oss://{dest.bucket}/{key}")
    return _finish(failures, len(jobs), "copy")


def _report_or_raise(ctx: _Context, recursive: bool, exc: Exception, what: str) -> int:
    """In a recursive command one failed object is reported and the others go on."""
    message = describe_error(exc)
    if not recursive or message is None:
        raise exc
    ctx.warn(f"{what}: {message}")
    return 1


def _finish(failures: int, total: int, verb: str) -> int:
    if failures:
        raise TransferFailed(f"{failures} of {total} {verb}(s) failed")
    return 0


HANDLERS: dict[str, Callable[[_Context, argparse.Namespace], int]] = {
    "mb": cmd_mb,
    "rb": cmd_rb,
    "ls": cmd_ls,
    "cp": cmd_cp,
    "rm": cmd_rm,
    "presign": cmd_presign,
}
