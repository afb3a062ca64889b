"""`python -m reconcile` behaves exactly like the `reconcile` console script."""

from reconcile.cli.main import main

raise SystemExit(main())
