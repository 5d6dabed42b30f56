# extrepo build. `make run` and `make test` set everything up on a fresh
# machine: a pinned uv makes the Python environment from uv.lock, npm installs
# the pinned buf from tools/package-lock.json, and the google/api protos come
# from the pinned googleapis-common-protos wheel.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS_DIR := .tools
UV := $(TOOLS_DIR)/uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
BUF := tools/node_modules/.bin/buf
PROTO_DEPS := third_party/proto
PY_OUT := clients/python/src
PROTOS := $(shell find proto -name '*.proto' | sort)

export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1
# The machines set PYTHONDONTWRITEBYTECODE: compile the environment once at install
# so that every start of the server or the admin command does not recompile it.
export UV_COMPILE_BYTECODE := 1

# Fragments in mk/ (one per language or component) append their targets here.
GENERATE_TARGETS := generate-python
LINT_TARGETS := lint-proto lint-python
TEST_TARGETS := test-python

-include mk/go.mk $(filter-out mk/go.mk,$(sort $(wildcard mk/*.mk)))

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# ---- set-up -----------------------------------------------------------------

$(UV):
	$(PYTHON) -m venv $(TOOLS_DIR)/uv
	$(TOOLS_DIR)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml clients/python/pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

$(BUF): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The google/api protos our proto imports, copied from the pinned wheel.
$(PROTO_DEPS)/.copied: $(VENV)/.synced
	rm -rf $(PROTO_DEPS) && mkdir -p $(PROTO_DEPS)/google/api
	src=$$($(PY) -c 'import google.api.http_pb2 as m, os; print(os.path.dirname(m.__file__))'); \
	for f in annotations http field_behavior resource visibility; do cp "$$src/$$f.proto" $(PROTO_DEPS)/google/api/; done
	touch $@

.PHONY: setup
setup: $(VENV)/.synced $(BUF) $(PROTO_DEPS)/.copied ## install every tool and package

# ---- code generation --------------------------------------------------------

.PHONY: generate
generate: $(GENERATE_TARGETS) ## regenerate all generated code from proto/

# Only extrepo/v1 is generated; the SDK and CLI beside it (extrepo/*.py) are not.
# Type stubs come from mypy-protobuf (messages and the gRPC stubs, sync and aio).
.PHONY: generate-python
generate-python: $(VENV)/.synced $(PROTO_DEPS)/.copied
	rm -rf $(PY_OUT)/extrepo/v1 && mkdir -p $(PY_OUT)/extrepo/v1
	$(PY) -m grpc_tools.protoc -I proto -I $(PROTO_DEPS) \
	  --plugin=protoc-gen-mypy=$(VENV)/bin/protoc-gen-mypy \
	  --plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc \
	  --python_out=$(PY_OUT) --mypy_out=$(PY_OUT) --grpc_python_out=$(PY_OUT) \
	  --mypy_grpc_out=$(PY_OUT) $(PROTOS)
	touch $(PY_OUT)/extrepo/v1/__init__.py

# Fails when the committed generated code differs from what `make generate` makes.
.PHONY: check-generated
check-generated: generate ## fail if generated code is stale
	@if [ -n "$$(git status --porcelain -- clients)" ]; then \
	  git status --porcelain -- clients; git diff --stat -- clients; \
	  echo "generated code is stale: run 'make generate' and commit the result" >&2; exit 1; fi

# ---- lint -------------------------------------------------------------------

.PHONY: lint
lint: $(LINT_TARGETS) ## buf lint, buf format check, ruff

.PHONY: lint-proto
lint-proto: $(BUF) $(PROTO_DEPS)/.copied
	$(BUF) lint
	$(BUF) format --diff --exit-code proto

.PHONY: lint-python
lint-python: $(VENV)/.synced
	$(VENV)/bin/ruff check server harness tests bench
	$(VENV)/bin/ruff format --check server harness tests bench

.PHONY: format
format: $(BUF) $(VENV)/.synced ## apply buf format and ruff format
	$(BUF) format -w proto
	$(VENV)/bin/ruff format server harness tests bench
	$(VENV)/bin/ruff check --fix server harness tests bench

# ---- test and run -----------------------------------------------------------

.PHONY: test
test: setup generate lint $(TEST_TARGETS) ## set up, generate, lint and run every test suite

.PHONY: test-python
test-python: $(VENV)/.synced
	$(PY) -m pytest

.PHONY: run-server
run-server: setup ## start the gRPC server alone (127.0.0.1:50051, SQLite in ./data)
	exec $(VENV)/bin/extrepo-server serve

.PHONY: admin
admin: $(VENV)/.synced ## run an admin command: make admin ARGS="user create alice"
	$(VENV)/bin/extrepo-server admin $(ARGS)

.PHONY: clean
clean: ## remove environments and build output (keeps ./data)
	rm -rf $(VENV) $(TOOLS_DIR) tools/node_modules $(PROTO_DEPS) .pytest_cache .ruff_cache build \
	  clients/typescript/node_modules clients/typescript/dist clients/java/target
