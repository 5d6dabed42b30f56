# Python client (clients/python): the package extrepo-client, i.e. the SDK, the
# `extrepo` command and the generated stubs. (Generation is generate-python in
# the top Makefile; the package's tests are the pytest suite, tests/clients/python.)
#
# - lint-python-client: ruff, and mypy --strict on the SDK and the examples.
# - test-python-example: the README shows examples/quickstart.py verbatim, and it
#   runs as written against a live server.
# - test-python-wheel: the package as its users get it: an sdist and a wheel built
#   with uv (the wheel from the sdist, as an index would), installed with its
#   pinned dependencies from PyPI into a fresh venv outside the repository; there,
#   the README's example and the `extrepo` command run against a live server.
PY_CLIENT_DIR := clients/python
PY_DIST_DIR := build/python-client

LINT_TARGETS += lint-python-client
TEST_TARGETS += test-python-example test-python-wheel

.PHONY: lint-python-client
lint-python-client: $(VENV)/.synced
	$(VENV)/bin/ruff check $(PY_CLIENT_DIR)/src $(PY_CLIENT_DIR)/examples
	$(VENV)/bin/ruff format --check $(PY_CLIENT_DIR)/src $(PY_CLIENT_DIR)/examples
	$(VENV)/bin/mypy --strict $(PY_CLIENT_DIR)/src/extrepo $(PY_CLIENT_DIR)/examples

.PHONY: test-python-example
test-python-example: $(VENV)/.synced ## run clients/python's README example against a live server
	$(PY) -c 'import pathlib, sys; d = pathlib.Path("$(PY_CLIENT_DIR)"); \
	  ok = "```python\n" + (d / "examples/quickstart.py").read_text() + "```" in (d / "README.md").read_text(); \
	  sys.exit(0 if ok else "$(PY_CLIENT_DIR)/README.md does not show examples/quickstart.py verbatim")'
	$(PY) -m tests.support.with_server -- $(PY) $(PY_CLIENT_DIR)/examples/quickstart.py

.PHONY: test-python-wheel
test-python-wheel: $(VENV)/.synced ## build the Python client, install it in a fresh venv, run its example there
	rm -rf $(PY_DIST_DIR)
	$(UV) build --quiet --out-dir $(PY_DIST_DIR) $(PY_CLIENT_DIR)
	@scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; set -x; \
	$(UV) venv --quiet --python $(PYTHON) "$$scratch/venv"; \
	$(UV) pip install --quiet --python "$$scratch/venv/bin/python" $(PY_DIST_DIR)/*.whl; \
	cp $(PY_CLIENT_DIR)/examples/quickstart.py "$$scratch/"; \
	"$$scratch/venv/bin/python" -c 'import importlib.metadata as m, sys; d = m.metadata("extrepo-client"); \
	  v = open("VERSION").read().strip(); \
	  sys.exit(0 if (d["Version"], d["License-Expression"], d["Requires-Python"]) == (v, "Apache-2.0", ">=3.10") \
	    and any(f.name == "LICENSE" for f in m.files("extrepo-client")) else f"wheel metadata: {d.items()}")'; \
	test "$$("$$scratch/venv/bin/extrepo" --version)" = "extrepo $$(cat VERSION)"; \
	$(PY) -m tests.support.with_server -- sh -c 'cd "$$1" && venv/bin/python quickstart.py \
	  && venv/bin/extrepo repository register -u puller -p s3cret registry.local/wheel/app \
	  && venv/bin/extrepo repository ls' sh "$$scratch"

# `make format` also formats the SDK and the examples (not the generated extrepo/v1).
.PHONY: format-python-client
format: format-python-client
format-python-client: $(VENV)/.synced
	$(VENV)/bin/ruff format $(PY_CLIENT_DIR)/src $(PY_CLIENT_DIR)/examples
	$(VENV)/bin/ruff check --fix $(PY_CLIENT_DIR)/src $(PY_CLIENT_DIR)/examples
