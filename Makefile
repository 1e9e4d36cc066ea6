# Every target sets up what it needs: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_READY := $(VENV)/.stamp-venv
# The demo needs the product and scikit-learn only; the tests add their tools on top, so a
# newcomer's first `make demo` does not wait for Helm's SDK, schema bundles and linters.
DEMO_STAMP := $(VENV)/.stamp-demo
STAMP := $(VENV)/.stamp-test

# The real Kubernetes control plane the tests start (etcd, kube-apiserver, kube-controller-manager),
# found through KUBEBUILDER_ASSETS as envtest finds it. When that is unset, the archive beside the
# repository is unpacked once into .cache/kube-assets and used.
KUBE_ASSETS_ARCHIVE ?= ../shared/kube-assets/kube-control-plane-linux-amd64.tar.xz
KUBE_ASSETS_DIR := .cache/kube-assets
ifeq ($(origin KUBEBUILDER_ASSETS),undefined)
ifneq ($(wildcard $(KUBE_ASSETS_ARCHIVE)),)
export KUBEBUILDER_ASSETS := $(abspath $(KUBE_ASSETS_DIR))/bin
KUBE_ASSETS := $(KUBE_ASSETS_DIR)/bin/kube-apiserver
endif
endif

.PHONY: demo demo-monitoring test test-unit test-integration crd reference bench bench-router bench-controller bench-soak bench-decisions bench-drift lint e2e-kind clean

$(VENV_READY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	touch $@

# pip byte-compiles every installed file one at a time (plotly alone has thousands);
# compileall on every core afterwards takes half as long.
$(DEMO_STAMP): pyproject.toml $(VENV_READY)
	$(BIN)/pip install --quiet --no-compile -e '.[demo]'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null
	touch $@

$(STAMP): pyproject.toml $(VENV_READY)
	$(BIN)/pip install --quiet --no-compile -e '.[test,demo]'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null
	touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/modelrollout demo --scenario good
	$(BIN)/modelrollout demo --scenario errors --report modelrollout-report/errors

# A promoted model's traffic drifts: monitoring flags it and calls a retraining webhook.
demo-monitoring: $(DEMO_STAMP)
	$(BIN)/modelrollout demo --scenario drift-after-promotion --report modelrollout-report/monitoring

# The import contracts in pyproject.toml (the layers, the router apart, no I/O in the pure core), then
# ruff and mypy as configured there (mypy strict on the pure core).
lint: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check
	$(BIN)/mypy

test: lint $(KUBE_ASSETS)
	$(BIN)/python -m pytest

$(KUBE_ASSETS_DIR)/bin/kube-apiserver: $(KUBE_ASSETS_ARCHIVE)
	mkdir -p $(KUBE_ASSETS_DIR)
	tar -xJf $(KUBE_ASSETS_ARCHIVE) -C $(KUBE_ASSETS_DIR)
	touch $@

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# Real processes on loopback and the real control plane (unpacked as for `make test`).
test-integration: $(STAMP) $(KUBE_ASSETS)
	$(BIN)/python -m pytest tests/integration

crd: $(DEMO_STAMP)
	$(BIN)/modelrollout crd > manifests/crd/modelrollouts.yaml

# The README's resource reference, from the same API models as the CRD (a unit test fails while they differ).
reference: $(DEMO_STAMP)
	$(BIN)/python -c "from pathlib import Path; from controller.api.reference import replace_reference; p = Path('README.md'); p.write_text(replace_reference(p.read_text()))"

bench-router: $(STAMP)
	$(BIN)/python bench/router.py

bench-controller: $(STAMP)
	$(BIN)/python bench/controller.py

# Ten minutes near saturation with a candidate that turns slow, then refuses connections (needs nginx, wrk).
bench-soak: $(STAMP)
	$(BIN)/python bench/soak.py

# False-rollback and missed-regression rates of every example through the engine, against fixed thresholds.
bench-decisions: $(STAMP)
	$(BIN)/python -m bench.decisions

# Drift monitoring's false-alarm rate (against alpha) and detection rate over simulated windows.
bench-drift: $(STAMP)
	$(BIN)/python -m bench.drift_alarms

bench: bench-router bench-controller bench-decisions

clean:
	rm -rf $(VENV) modelrollout-report .pytest_cache .cache

# install.yaml is the chart rendered with its default values plus the CRD; regenerate it after
# changing either (a unit test fails while they differ).
.PHONY: install-yaml
install-yaml: $(STAMP)
	$(BIN)/python manifests/generate_install.py

# Opt-in: needs a running Docker engine and kind (it cannot run without them). Creates the kind
# cluster, builds and loads the images, installs the chart, then rolls a good and a bad model out.
e2e-kind: $(STAMP)
	MODELROLLOUT_E2E=1 $(BIN)/python -m pytest tests/e2e -m e2e -v -p no:cacheprovider --timeout 3600

# A whole rollout without Docker, as root (unshare): the real control plane with install.yaml
# applied, a loopback node running every Pod as a local process inside network, mount and PID
# namespaces of its own; a good candidate promoted, a bad one rolled back, the controller
# killed mid-rollout. `make test` runs it too (tests/integration/e2e_local).
e2e-local: $(STAMP) $(KUBE_ASSETS)
	$(BIN)/python -m tests.integration.e2e_local.scenario
