"""python -m service.client: the command line (see service.client.cli)."""

from service.client.cli import main

raise SystemExit(main())
