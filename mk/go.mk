# Go: the module clients/go (generated messages, gRPC client, grpc-gateway
# handlers, OpenAPI description) and the REST gateway built from it.
#
# The protoc plugins are pinned by the `tool` directives of their own module,
# clients/go/tools/go.mod (kept apart so the client module's users do not
# inherit the generators' dependencies), and installed into .tools/bin.

GO ?= go
GO_DIR := clients/go
GO_BIN := $(TOOLS_DIR)/bin
GATEWAY_BIN := build/extrepo-gateway
# Where `make run` serves; both can be overridden: make run EXTREPO_GATEWAY_ADDRESS=127.0.0.1:9090
EXTREPO_ADDRESS ?= 127.0.0.1:50051
EXTREPO_GATEWAY_ADDRESS ?= 127.0.0.1:8080
GO_SOURCES := $(shell find $(GO_DIR) -name '*.go' -o -name '*.json' -o -name 'go.*' 2>/dev/null)

GENERATE_TARGETS += generate-go
LINT_TARGETS += lint-go
TEST_TARGETS += test-go

$(GO_BIN)/.go-plugins: $(GO_DIR)/tools/go.mod $(GO_DIR)/tools/go.sum
	mkdir -p $(GO_BIN)
	cd $(GO_DIR)/tools && GOBIN=$(abspath $(GO_BIN)) $(GO) install tool
	touch $@

.PHONY: generate-go
generate-go: $(BUF) $(PROTO_DEPS)/.copied $(GO_BIN)/.go-plugins
	rm -rf $(GO_DIR)/extrepo $(GO_DIR)/gateway/openapi
	$(BUF) generate --template buf.gen.go.yaml

$(GATEWAY_BIN): $(GO_SOURCES)
	$(GO) -C $(GO_DIR) build -o $(abspath $@) ./cmd/extrepo-gateway

.PHONY: build-gateway
build-gateway: $(GATEWAY_BIN) ## build the REST gateway into build/extrepo-gateway

.PHONY: lint-go
lint-go:
	$(GO) -C $(GO_DIR) vet ./...
	@out=$$(gofmt -l $(GO_DIR)); if [ -n "$$out" ]; then echo "gofmt needed:" $$out >&2; exit 1; fi

# The Go tests: the gateway's own unit tests, and the client cycle against a
# live server that tests/support/with_server.py starts with a fresh data dir
# and a user (EXTREPO_REQUIRE_SERVER turns the cycle's skip into a failure).
.PHONY: test-go
test-go: $(VENV)/.synced
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
	$(PY) -m tests.support.gateway --wait-healthy "http://$(EXTREPO_GATEWAY_ADDRESS)" \
	  || echo "(the gateway is not healthy yet: see the logs above)"; \
	echo; echo "extrepo gRPC server: $(EXTREPO_ADDRESS)"; \
	echo "extrepo REST gateway: http://$(EXTREPO_GATEWAY_ADDRESS)/api/repo/v1/repository/"; \
	echo "  OpenAPI: http://$(EXTREPO_GATEWAY_ADDRESS)/api/repo/v1/openapi.json  health: http://$(EXTREPO_GATEWAY_ADDRESS)/healthz"; \
	echo "Ctrl-C stops both."; echo; \
	wait -n $$srv $$gw
