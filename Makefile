# aiops developer entry points. The two set-up commands are `make demo` and `make test`;
# both create the virtualenv and install pinned dependencies on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REDIS_URL ?= redis://127.0.0.1:6379/0
export REDIS_URL
PYTEST_ARGS ?=

.PHONY: help install demo run test lint fmt typecheck bench e2e redis chart-lint crd clean

help: ## Show this help
	@grep -E '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,demo]'
	touch $@

install: $(VENV)/.installed ## Create .venv and install aiops with pinned dependencies

redis: install ## Make sure a Redis answers on $REDIS_URL (starts a local one if not)
	@PY=$(BIN)/python scripts/ensure-redis.sh

demo: install ## Run the demo: emulated cluster, real operator, approvals (uses Redis if one answers)
	$(BIN)/aiops demo

run: install ## Run the operator and API against the current kubeconfig
	$(BIN)/aiops run

test: install redis ## Run every test (real Redis, real kopf against the emulated Kubernetes API)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install ## ruff, ruff format --check, mypy --strict, import-linter, Helm chart checks
	$(BIN)/ruff check aiops tests bench
	$(BIN)/ruff format --check aiops tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(MAKE) chart-lint

typecheck: install ## mypy --strict alone (also part of lint)
	$(BIN)/mypy

chart-lint: install ## Chart, monitoring rules (promtool), Dockerfile (hadolint), scripts (shellcheck); tools into .tools/
	scripts/chart-check.sh

fmt: install ## Format and autofix
	$(BIN)/ruff format aiops tests bench
	$(BIN)/ruff check --fix aiops tests bench

crd: install ## Regenerate the Playbook CRD (deploy/crds and the chart's copy) from the models
	$(BIN)/python -m aiops.playbooks.crd --write

bench: install redis ## Benchmarks (numbers, not assertions)
	$(BIN)/python -m bench

e2e: install ## kind + helm end-to-end (needs Docker, kind, helm; not run in CI here)
	deploy/e2e.sh

clean: ## Stop the redis-server `make redis`/`make test` started; remove the virtualenv and caches
	@pid=$$(cat .redis/redis.pid 2>/dev/null || true); \
	if [ -n "$$pid" ] && grep -qx redis-server /proc/$$pid/comm 2>/dev/null; then \
	  echo "redis: stopping the redis-server make started (pid $$pid, .redis/redis.pid)"; \
	  kill "$$pid"; \
	  for _ in $$(seq 1 50); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
	fi
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .redis
