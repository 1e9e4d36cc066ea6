# Every target sets up what it needs: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install

.PHONY: demo test test-unit test-integration crd bench bench-router bench-controller lint e2e-kind clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,demo]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/modelrollout demo --scenario good
	$(BIN)/modelrollout demo --scenario errors --report modelrollout-report/errors

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

crd: $(STAMP)
	$(BIN)/modelrollout crd > manifests/crd/modelrollouts.yaml

bench-router: $(STAMP)
	$(BIN)/python bench/router.py

bench-controller: $(STAMP)
	$(BIN)/python bench/controller.py

bench: bench-router bench-controller

clean:
	rm -rf $(VENV) modelrollout-report .pytest_cache

# install.yaml is the chart rendered with its default values plus the CRD; regenerate it after
# changing either (a unit test fails while they differ).
.PHONY: install-yaml
install-yaml: $(STAMP)
	$(BIN)/python manifests/generate_install.py

# Opt-in: needs a running Docker engine and kind (it cannot run without them). Creates the kind
# cluster, builds and loads the images, installs the chart, then rolls a good and a bad model out.
e2e-kind: $(STAMP)
	MODELROLLOUT_E2E=1 $(BIN)/python -m pytest tests/e2e -m e2e -v -p no:cacheprovider --timeout 3600
