"""Tessera's own ASGI app on other HTTP stacks than ``tessera serve`` uses (benchmarks only).

The app is built with ``tessera.runtime`` exactly as ``tessera serve`` builds it (settings from
the ``TESSERA_*`` environment, ``build_runtime``, ``bootstrap_root``, the same access log), and
then served by:

- ``embedded-asyncio`` / ``embedded-uvloop``: granian's embedded server as ``tessera serve``
  runs it (``tessera.runtime._serve``), on the event loop named, whichever one ``tessera
  serve`` picks;
- ``uvicorn``: uvicorn with httptools and uvloop;
- granian's command line: ``granian --interface asgi --factory tessera_stacks:create_app``.

Run: ``TESSERA_DATA_DIR=D TESSERA_PORT=P python bench/tessera_stacks.py --stack uvicorn``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def _runtime() -> Any:
    from tessera.config import load_settings
    from tessera.runtime import bootstrap_root, build_runtime, configure_logging

    settings = load_settings(config_path=None, overrides={})
    configure_logging(settings)
    runtime = build_runtime(settings)
    bootstrap_root(runtime)
    return runtime


def create_app() -> Any:
    """The ASGI app of a Tessera node configured from the environment (granian --factory)."""
    return _runtime().app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--stack", choices=["embedded-asyncio", "embedded-uvloop", "uvicorn"], required=True
    )
    args = parser.parse_args()
    runtime = _runtime()
    settings = runtime.settings
    try:
        if args.stack == "uvicorn":
            import uvicorn

            uvicorn.run(
                runtime.app,
                host=settings.host,
                port=settings.port,
                http="httptools",
                loop="uvloop",
                access_log=False,
                log_level="warning",
            )
        else:
            from tessera.runtime import _serve

            if args.stack == "embedded-asyncio":
                asyncio.run(_serve(runtime, None))
            else:
                import uvloop

                uvloop.run(_serve(runtime, None))
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
