# Benchmarks: not part of `make test`; `make bench` takes several minutes. Load
# comes from Go programs (ghz for gRPC, hey for HTTP), pinned here, so that the
# Python servers under test are not also generating load on the 2 cores.
GHZ_VERSION := v0.120.0
HEY_VERSION := v0.1.5
GHZ := $(TOOLS_DIR)/bin/ghz
HEY := $(TOOLS_DIR)/bin/hey
PEER_VENV := bench/peer/.venv

$(GHZ):
	mkdir -p $(TOOLS_DIR)/bin
	GOBIN=$(abspath $(TOOLS_DIR)/bin) go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)

$(HEY):
	mkdir -p $(TOOLS_DIR)/bin
	GOBIN=$(abspath $(TOOLS_DIR)/bin) go install github.com/rakyll/hey@$(HEY_VERSION)

# The peer (FastAPI + SQLModel) and the chart have their own locked environment.
$(PEER_VENV)/.synced: $(UV) bench/peer/pyproject.toml bench/peer/uv.lock
	$(UV) sync --frozen --project bench/peer --python $(PYTHON)
	touch $@

.PHONY: bench
bench: setup $(GATEWAY_BIN) $(GHZ) $(HEY) $(PEER_VENV)/.synced ## run every benchmark: table, bench/results/latest.json and .png
	$(PY) bench/run.py --ghz $(GHZ) --hey $(HEY) --peer-python $(PEER_VENV)/bin/python
	$(PEER_VENV)/bin/python bench/peer/chart.py bench/results/latest.json bench/results/latest.png
	@echo "chart: bench/results/latest.png"

.PHONY: bench-get
bench-get: setup $(GHZ) ## Get against an empty RPC (aio and thread-pool servers), with ghz
	$(PY) bench/quick_get.py --ghz $(GHZ)

# Same-run A/B against another revision (default: the previous commit), interleaved
# rounds on fresh data directories: the ratio B/A per case, without the noise of
# comparing runs made at different times.
BASE ?= HEAD~1
.PHONY: bench-ab
bench-ab: setup $(GHZ) ## A/B of Get, List, Create, Update against BASE (default HEAD~1), same run
	$(PY) bench/ab.py --base $(BASE) --ghz $(GHZ)

# Get and List with the background credential re-checks busy against a real registry,
# against the same server without them, interleaved (bench/checks.py).
.PHONY: bench-checks
bench-checks: setup $(GHZ) ## Get and List with background credential checks running vs not, same run
	$(PY) bench/checks.py --ghz $(GHZ)
