# Lattice — run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROTOS := $(shell find protos -name '*.proto')
CHROMIUM ?= /usr/bin/chromium
export PYTHONPATH := $(CURDIR):$(CURDIR)/gen

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

install: $(VENV)/.installed ## create the virtualenv and install the pinned dependencies

gen/.stamp: $(VENV)/.installed $(PROTOS)
	rm -rf gen && mkdir -p gen
	$(PY) -m grpc_tools.protoc -I protos --python_out=gen --pyi_out=gen --grpc_python_out=gen $(PROTOS)
	find gen/lattice -type d -exec touch {}/__init__.py \;
	touch $@

protos: gen/.stamp ## generate Python code (with .pyi stubs) from protos/ into gen/

BUF_DIR := tools/buf
BUF := $(BUF_DIR)/node_modules/.bin/buf

$(BUF): $(BUF_DIR)/package.json $(BUF_DIR)/package-lock.json
	cd $(BUF_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

buf: $(BUF) ## install buf (npm @bufbuild/buf, pinned in tools/buf/package-lock.json) for the contract checks

proto-check: $(BUF) ## buf lint of protos/, then buf breaking (WIRE_JSON) against the previous contract protos/baseline.binpb
	cd protos && ../$(BUF) lint && ../$(BUF) breaking --against baseline.binpb

proto-baseline: $(BUF) ## on purpose: make the current protos/ the contract proto-check compares with (commit protos/baseline.binpb)
	cd protos && ../$(BUF) build --exclude-source-info -o baseline.binpb

run: protos ## start NATS, the five services, the gateway and the console (embedded default); Ctrl-C stops all
	$(PY) -m tools.run

demo: protos ## play the partner -> customer -> benefit -> conversion journey against `make run`
	$(PY) -m tools.demo

browser: ## install Chromium and a Chinese font (Debian packages) for the console's browser tests when missing
	@if [ -x "$(CHROMIUM)" ]; then echo "chromium present: $(CHROMIUM)"; else \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi
	@# without a CJK font the zh-Hans pages (and the screenshots in docs/console/) show empty boxes
	@if [ -n "$$(fc-list :lang=zh 2>/dev/null)" ]; then echo "Chinese font present"; else \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-wqy-microhei \
	    || { $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-wqy-microhei; }; \
	fi

wrk: ## install wrk (Debian package), the compiled load generator of make bench and its harness test, when missing
	@if command -v wrk >/dev/null; then echo "wrk present: $$(command -v wrk)"; else \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk \
	    || { $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk; }; \
	fi

test: protos browser wrk buf ## run the whole test suite on the embedded defaults (no NATS or PostgreSQL needed; installs Chromium for the console tests and wrk for the bench harness test when missing)
	$(PY) -m pytest -q

test-postgres: protos ## (and the gateway replicas on Redis, 127.0.0.1:6379 or LATTICE_TEST_REDIS_URL) the storage and ledger tests, the journey, its replica/fault test and the races through the gateway on PostgreSQL, a database per service (LATTICE_TEST_POSTGRES_URL)
	LATTICE_TEST_POSTGRES_URL=$${LATTICE_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres} \
	  $(PY) -m pytest -q -m "postgres or redis"

test-scale: protos ## the journey on a 3-node JetStream cluster (nodes killed and partitioned) and the races through two gateways (needs nothing installed)
	$(PY) -m pytest -q -m scale

fuzz: protos ## fuzz the gateway's OpenAPI with fresh random examples (longer than the run in make test)
	LATTICE_FUZZ_EXPLORE=1 LATTICE_FUZZ_EXAMPLES=$${LATTICE_FUZZ_EXAMPLES:-40} LATTICE_FUZZ_BUDGET_S=$${LATTICE_FUZZ_BUDGET_S:-900} \
	  $(PY) -m pytest -q tests/gateway/test_openapi_fuzz.py -p no:cacheprovider

bench: protos wrk ## measure the system against bare-FastAPI and gateway->gRPC baselines (WORKERS=1,2 SOAK=600 SAMPLING=all,production)
	$(PY) -m tools.bench $(if $(WORKERS),--workers $(WORKERS)) $(if $(SOAK),--soak $(SOAK)) $(if $(SAMPLING),--trace-sampling $(SAMPLING))

bench-rpc: protos ## the services' runtime cost per RPC against a bare grpc.aio server (tools/bench/rpc_overhead.py)
	$(PY) -m tools.bench.rpc_overhead

config-docs: protos ## regenerate the README's configuration table from the settings classes
	$(PY) -m tools.config_table

lint: protos ## ruff check and format check, then the import contracts (lint-imports; pyproject.toml [tool.importlinter])
	$(VENV)/bin/ruff check gateway services tools tests infra console
	$(VENV)/bin/ruff format --check gateway services tools tests infra console
	$(VENV)/bin/lint-imports --no-cache

typecheck: protos ## mypy: strict on the runtime, the edge policies and the domain modules (docs/DEVELOPING.md)
	$(VENV)/bin/mypy

fmt: install ## ruff format
	$(VENV)/bin/ruff format gateway services tools tests infra console

migration: protos ## autogenerate a migration: make migration SERVICE=identity MSG="add x"
	$(PY) -m tools.migration $(SERVICE) "$(MSG)"

up: ## compose deployment: start everything (needs a Docker engine)
	docker compose up -d --build

down: ## compose deployment: stop
	docker compose down

logs: ## compose deployment: follow logs
	docker compose logs -f

clean: ## remove generated code and local data
	rm -rf gen var

.PHONY: help install protos buf proto-check proto-baseline run demo browser test test-postgres test-scale bench bench-rpc config-docs lint typecheck fmt migration up down logs clean wrk
