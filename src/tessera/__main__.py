"""``python -m tessera`` is the ``tessera`` command."""

from tessera.cli.main import main

raise SystemExit(main())
