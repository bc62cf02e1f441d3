"""python -m examples.simulation: run the simulation (see --help)."""

from examples.simulation.cli import main

raise SystemExit(main())
