# TypeScript client (clients/typescript): protoc-gen-es output committed under
# src/gen/, compiled with tsc, tested with node's test runner against a live
# server. Every npm package comes from clients/typescript/package-lock.json
# through `npm ci`, so the generator, the runtime and tsc are pinned.
TS_DIR := clients/typescript
TS_MODULES := $(TS_DIR)/node_modules/.package-lock.json
# google/rpc/error_details.proto, copied from the pinned googleapis-common-protos
# wheel for generation only (build/ is not committed).
TS_RPC_PROTOS := $(TS_DIR)/build/rpc-proto

GENERATE_TARGETS += generate-typescript
LINT_TARGETS += lint-typescript
TEST_TARGETS += test-typescript

# npm writes node_modules/.package-lock.json on every install: a stamp that is
# newer than the lock file once `npm ci` has run.
$(TS_MODULES): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	npm --prefix $(TS_DIR) ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: generate-typescript
generate-typescript: $(BUF) $(PROTO_DEPS)/.copied $(TS_MODULES) $(VENV)/.synced ## regenerate clients/typescript/src/gen
	$(BUF) generate --template $(TS_DIR)/buf.gen.yaml
	rm -rf $(TS_RPC_PROTOS) && mkdir -p $(TS_RPC_PROTOS)/google/rpc
	cp "$$($(PY) -c 'import google.rpc.error_details_pb2 as m, os; print(os.path.dirname(m.__file__))')/error_details.proto" \
	  $(TS_RPC_PROTOS)/google/rpc/
	$(BUF) generate --template $(TS_DIR)/buf.gen.rpc.yaml \
	  --config '{"version": "v2", "modules": [{"path": "$(TS_RPC_PROTOS)"}]}' $(TS_RPC_PROTOS)

# tsc (strict) type-checks the generated code, the helper, the tests and the
# example; `tsc -b` then finds them up to date when the tests build.
.PHONY: lint-typescript
lint-typescript: $(TS_MODULES)
	npm --prefix $(TS_DIR) run --silent typecheck

.PHONY: test-typescript
test-typescript: $(VENV)/.synced $(TS_MODULES) ## run the TypeScript client's tests against a live server
	$(PY) -m tests.support.with_server -- npm --prefix $(TS_DIR) test
	@# The README's example, as written, against a server of its own.
	$(PY) -m tests.support.with_server -- npm --prefix $(TS_DIR) run --silent example
	@# The package as a user gets it: npm pack on a fresh copy, installed into a
	@# new project outside the repository, the example compiled and run there.
	$(PY) -m tests.support.with_server -- $(TS_DIR)/scripts/install-as-user.sh
