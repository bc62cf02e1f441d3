"""python -m examples.label_studio: rank a Label Studio project's tasks (see --help)."""

from examples.label_studio.cli import main

raise SystemExit(main())
