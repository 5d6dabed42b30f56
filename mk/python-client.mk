# Python client (clients/python): its README's example, run as written against
# a live server, and checked to be the very file the README shows.
# (Generation is generate-python in the top Makefile; the package's own tests
# are the pytest suite.)
PY_CLIENT_DIR := clients/python

TEST_TARGETS += test-python-example

.PHONY: test-python-example
test-python-example: $(VENV)/.synced ## run clients/python's README example against a live server
	$(PY) -c 'import pathlib, sys; d = pathlib.Path("$(PY_CLIENT_DIR)"); \
	  ok = "```python\n" + (d / "examples/quickstart.py").read_text() + "```" in (d / "README.md").read_text(); \
	  sys.exit(0 if ok else "$(PY_CLIENT_DIR)/README.md does not show examples/quickstart.py verbatim")'
	$(PY) -m tests.support.with_server -- $(PY) $(PY_CLIENT_DIR)/examples/quickstart.py
