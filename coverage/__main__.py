"""``python -m coverage`` runs the ``edge-coverage`` command line."""

from .cli import main

if __name__ == "__main__":  # not when a spawned process (the budget sweep's) imports it
    raise SystemExit(main())
