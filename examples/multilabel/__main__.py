"""python -m examples.multilabel: run the multi-label simulation (see --help)."""

from examples.multilabel.cli import main

raise SystemExit(main())
