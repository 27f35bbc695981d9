"""Starting and stopping a real ``tessera serve`` for integration tests.

A server runs as a child process on a free loopback port with its own data directory and
known root credentials; the test (or fixture) that started it stops it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT_ACCESS_KEY_ID = "LTAItesseraRootKey0001"
ROOT_ACCESS_KEY_SECRET = "tesseraRootSecretForTests0000001"
ACCOUNT_ID = "1234567890123456"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TesseraServer:
    data_dir: Path
    tls: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def endpoint(self) -> str:
        """``host:port`` as the SDKs take it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.endpoint}"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TESSERA_ROOT_ACCESS_KEY_ID=ROOT_ACCESS_KEY_ID,
            TESSERA_ROOT_ACCESS_KEY_SECRET=ROOT_ACCESS_KEY_SECRET,
            TESSERA_ACCOUNT_ID=ACCOUNT_ID,
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 15.0) -> TesseraServer:
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        args = [
            sys.executable,
            "-m",
            "tessera",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        if self.tls:
            args.append("--tls")
        args += self.extra_args
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        context: Any = None
        if self.tls:
            import ssl

            context = (
                ssl.create_default_context(cafile=str(self.ca_file))
                if self.ca_file.exists()
                else None
            )
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"tessera serve exited with {self.process.returncode}:\n{self.log()}"
                )
            if self.tls and context is None and self.ca_file.exists():
                import ssl

                context = ssl.create_default_context(cafile=str(self.ca_file))
            try:
                with urllib.request.urlopen(
                    f"{self.url}/-/health", timeout=1, context=context
                ) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"tessera serve did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return (
            self.log_path.read_text(errors="replace")
            if self.log_path and self.log_path.exists()
            else ""
        )

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def __enter__(self) -> TesseraServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
