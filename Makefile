# Each target creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.installed-examples: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[examples]"
	touch $@

$(VENV)/.installed-ner: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[ner]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $@

serve: $(VENV)/.installed-runtime  ## serve the API on localhost:8000 with gunicorn
	$(BIN)/gunicorn --config gunicorn.conf.py "service.app:create_app()"

test: $(VENV)/.installed-test  ## lint, type-check, run the whole test suite, then fuzz a live server
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory fuzz FUZZ_EXAMPLES=$(TEST_FUZZ_EXAMPLES) FUZZ_SEED=$(TEST_FUZZ_SEED)

# Generated cases per operation and phase: `make fuzz` runs the full count
# with a fresh seed each time (printed); `make test` a bounded count with one
# fixed seed, so that its run is the same on every machine. FUZZ_SEED=<seed>
# repeats any run.
FUZZ_EXAMPLES ?= 100
TEST_FUZZ_EXAMPLES ?= 30
TEST_FUZZ_SEED ?= 20261203
.PHONY: fuzz
fuzz: $(VENV)/.installed-test  ## stock schemathesis, every phase and check, against a 2-worker gunicorn
	$(BIN)/python -m bench.fuzz --max-examples $(FUZZ_EXAMPLES) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

.PHONY: contract
contract: $(VENV)/.installed-test  ## regenerate the parts of openapi.yaml and README.md the registry defines
	$(BIN)/python -m service.contract

.PHONY: bench
# One BLAS thread, as gunicorn.conf.py sets for the service.
bench: export OPENBLAS_NUM_THREADS := 1
bench: export OMP_NUM_THREADS := 1
bench: $(VENV)/.installed-bench  ## measure every benchmark figure, write bench/results/
	$(BIN)/python -m bench core
	$(BIN)/python -m bench samples
	$(BIN)/python -m bench selections
	$(BIN)/python -m bench transports
	$(BIN)/python -m bench peers
	$(BIN)/python -m bench tokens
	$(BIN)/python -m bench report

.PHONY: load faults
load: $(VENV)/.installed-test  ## 60 s of concurrent load on a 2-worker gunicorn: zero 5xx, steady memory
	$(BIN)/python -m bench.load $(ARGS)

faults: $(VENV)/.installed-test  ## kill -9 a worker under load, then SIGTERM mid-ranking: recovery and drain
	$(BIN)/python -m bench.faults $(ARGS)

.PHONY: simulate
simulate: $(VENV)/.installed-examples  ## active learning through the API on scikit-learn's datasets; writes examples/results/
	$(BIN)/python -m examples.simulation $(ARGS)

.PHONY: simulate-ner
simulate-ner: $(VENV)/.installed-ner  ## active learning for NER through the API (a CRF on tweets); writes examples/results/ner_*
	$(BIN)/python -m examples.ner $(ARGS)

.PHONY: simulate-costs
simulate-costs: $(VENV)/.installed-examples  ## cost-aware margin against plain margin at equal spend (digits, cost = inked pixels); writes examples/results/costs_*
	$(BIN)/python -m examples.costs $(ARGS)

.PHONY: simulate-multilabel
simulate-multilabel: $(VENV)/.installed-examples  ## multi-label active learning through the API (synthetic data); writes examples/results/multilabel_*
	$(BIN)/python -m examples.multilabel $(ARGS)

# Label Studio pins its own versions of many packages (Django, numpy, ...), so
# its example runs in an environment of its own.
LS_VENV ?= .venv-label-studio
$(LS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LS_VENV)/bin/python -m pip install --quiet -e ".[labelstudio]" "pytest>=8.3,<10" "hypothesis>=6.100,<7"
	touch $@

.PHONY: label-studio-demo
label-studio-demo: $(LS_VENV)/.installed  ## a real Label Studio and alrank on loopback: one ranked round on the digits, read back
	$(LS_VENV)/bin/python -m examples.label_studio.demo $(ARGS)

.PHONY: test-label-studio
test-label-studio: $(LS_VENV)/.installed  ## the Label Studio example's tests, the live one included
	# The suite's conftest needs the test extra, which this environment does not hold.
	ALRANK_LABEL_STUDIO=1 $(LS_VENV)/bin/python -m pytest --noconftest tests/examples/test_label_studio.py

clean:
	rm -rf $(VENV) $(LS_VENV) .pytest_cache .ruff_cache .hypothesis
