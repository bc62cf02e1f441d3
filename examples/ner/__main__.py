"""python -m examples.ner: run the NER simulation (see --help)."""

from examples.ner.cli import main

raise SystemExit(main())
