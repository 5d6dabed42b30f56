# Go: two modules.
# - clients/go, the client: generated messages and gRPC client, basicauth,
#   and package extrepo (Dial, paging, field violations, Version).
#   Its users never inherit grpc-gateway.
# - clients/go/gateway, the REST gateway: the grpc-gateway handlers and the
#   OpenAPI description generated from proto/, the gateway package and its
#   command; it requires the client module through `replace ../`.
#
# The protoc plugins are pinned by the `tool` directives of their own module,
# clients/go/tools/go.mod (kept apart so that neither module inherits the
# generators' dependencies), and installed into .tools/bin.
#
# The top Makefile includes this fragment before the others: they name
# GATEWAY_BIN in prerequisites, which make expands as it reads them.

GO ?= go
GO_DIR := clients/go
GATEWAY_DIR := $(GO_DIR)/gateway
# The routing test's test-only proto (see its buf.gen.yaml).
ROUTETEST_DIR := $(GATEWAY_DIR)/internal/routetest
# The gateway's own proto (its REST error body, for the OpenAPI description
# only) and the workspace its OpenAPI run and its lint see: no module of
# buf.yaml, so the other clients and buf breaking never see it.
GATEWAY_PROTO := $(GATEWAY_DIR)/proto
GATEWAY_WORKSPACE := {"version": "v2", "modules": [{"path": "proto"}, {"path": "$(GATEWAY_PROTO)"}, {"path": "$(PROTO_DEPS)"}], "lint": {"use": ["STANDARD"], "ignore": ["proto", "$(PROTO_DEPS)"]}}
GO_BIN := $(TOOLS_DIR)/bin
GATEWAY_BIN := build/extrepo-gateway
# Where `make run` serves; both can be overridden: make run EXTREPO_GATEWAY_ADDRESS=127.0.0.1:9090
EXTREPO_ADDRESS ?= 127.0.0.1:50051
EXTREPO_GATEWAY_ADDRESS ?= 127.0.0.1:8080
# What the gateway binary is built from: both modules (the gateway builds the
# client module through its replace directive), the embedded OpenAPI file and
# the go.mod/go.sum files; not the generators' module.
GO_SOURCES := $(shell find $(GO_DIR) -path $(GO_DIR)/tools -prune -o \
  \( -name '*.go' -o -name '*.json' -o -name 'go.mod' -o -name 'go.sum' \) -print 2>/dev/null)

GENERATE_TARGETS += generate-go
LINT_TARGETS += lint-go
TEST_TARGETS += test-go

$(GO_BIN)/.go-plugins: $(GO_DIR)/tools/go.mod $(GO_DIR)/tools/go.sum
	mkdir -p $(GO_BIN)
	cd $(GO_DIR)/tools && GOBIN=$(abspath $(GO_BIN)) $(GO) install tool
	touch $@

# Every output directory is removed first, so that code of a removed proto
# does not linger. The OpenAPI description has its own template: its one
# plugin run reads proto/ and the gateway's error body together. The routing test's proto is no module of buf.yaml (lint,
# breaking, the other clients and the OpenAPI file must not see it): --config
# gives buf a workspace of it and the google/api protos for this run only.
.PHONY: generate-go
generate-go: $(BUF) $(PROTO_DEPS)/.copied $(GO_BIN)/.go-plugins
	rm -rf $(GO_DIR)/extrepo $(GATEWAY_DIR)/internal/gen $(GATEWAY_DIR)/openapi $(ROUTETEST_DIR)/gen
	$(BUF) generate --template buf.gen.go.yaml
	$(BUF) generate --template $(GATEWAY_DIR)/buf.gen.openapi.yaml --config '$(GATEWAY_WORKSPACE)'
	$(BUF) generate --template $(ROUTETEST_DIR)/buf.gen.yaml \
	  --config '{"version": "v2", "modules": [{"path": "$(ROUTETEST_DIR)/proto"}, {"path": "$(PROTO_DEPS)"}]}'

$(GATEWAY_BIN): $(GO_SOURCES)
	$(GO) -C $(GATEWAY_DIR) build -o $(abspath $@) ./cmd/extrepo-gateway

.PHONY: build-gateway
build-gateway: $(GATEWAY_BIN) ## build the REST gateway into build/extrepo-gateway

# The gateway's own proto is linted in its workspace (buf STANDARD, as
# proto/). `./...` stops at a nested go.mod, so each module is vetted on its own;
# gofmt walks the whole tree.
.PHONY: lint-go
lint-go: $(BUF) $(PROTO_DEPS)/.copied
	$(BUF) lint --config '$(GATEWAY_WORKSPACE)'
	$(BUF) format --diff --exit-code $(GATEWAY_PROTO)
	$(GO) -C $(GO_DIR) vet ./...
	$(GO) -C $(GATEWAY_DIR) vet ./...
	@out=$$(gofmt -l $(GO_DIR)); if [ -n "$$out" ]; then echo "gofmt needed:" $$out >&2; exit 1; fi

# The Go tests: the gateway module's own (routing, route table, errors; no
# server needed), then the client module's cycle against a live server that
# tests/support/with_server.py starts with a fresh data dir and a user
# (EXTREPO_REQUIRE_SERVER turns the cycle's skip into a failure).
.PHONY: test-go
test-go: $(VENV)/.synced
	$(GO) -C $(GATEWAY_DIR) test -count=1 ./...
	EXTREPO_REQUIRE_SERVER=1 $(PY) -m tests.support.with_server -- \
	  $(GO) -C $(GO_DIR) test -count=1 ./...

# The gRPC server and the REST gateway together. Ctrl-C (or TERM) stops both;
# if either exits, the other is stopped too.
.PHONY: run
run: setup $(GATEWAY_BIN) ## start the gRPC server and the REST gateway (127.0.0.1:50051, http://127.0.0.1:8080)
	@srv= gw=; \
	stop() { trap - INT TERM EXIT; kill -TERM $$srv $$gw 2>/dev/null || true; wait; }; \
	trap stop INT TERM EXIT; \
	EXTREPO_ADDRESS=$(EXTREPO_ADDRESS) $(VENV)/bin/extrepo-server serve & srv=$$!; \
	$(GATEWAY_BIN) -listen $(EXTREPO_GATEWAY_ADDRESS) -grpc-address $(EXTREPO_ADDRESS) & gw=$$!; \
	$(GATEWAY_BIN) -wait-healthy "http://$(EXTREPO_GATEWAY_ADDRESS)" \
	  || echo "(the gateway is not healthy yet: see the logs above)"; \
	echo; echo "extrepo gRPC server: $(EXTREPO_ADDRESS)"; \
	echo "extrepo REST gateway: http://$(EXTREPO_GATEWAY_ADDRESS)/api/repo/v1/repository/"; \
	echo "  OpenAPI: http://$(EXTREPO_GATEWAY_ADDRESS)/api/repo/v1/openapi.json  health: http://$(EXTREPO_GATEWAY_ADDRESS)/healthz"; \
	echo "Ctrl-C stops both."; echo; \
	wait -n $$srv $$gw
