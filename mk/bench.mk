# Benchmarks: not part of `make test`. The load generator is ghz (a Go program,
# pinned), so that the Python server under test is not also generating load.
GHZ_VERSION := v0.120.0
GHZ := $(TOOLS_DIR)/bin/ghz

$(GHZ):
	mkdir -p $(TOOLS_DIR)/bin
	GOBIN=$(abspath $(TOOLS_DIR)/bin) go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)

.PHONY: bench-get
bench-get: setup $(GHZ) ## Get against an empty RPC (aio and thread-pool servers), with ghz
	$(PY) bench/quick_get.py --ghz $(GHZ)
