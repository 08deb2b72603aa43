"""``python -m coverage`` runs the ``edge-coverage`` command line."""

from .cli import main

raise SystemExit(main())
