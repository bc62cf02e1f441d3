"""python -m examples.costs: run the cost-aware simulation (see --help)."""

from examples.costs.experiment import main

raise SystemExit(main())
