"""Real extrepo processes for tests, benchmarks and client harnesses: a server on a
free port, a throwaway PostgreSQL cluster, the REST gateway.

Not test code itself (no assertions, no fixtures): `make run`, `bench/` and
`tests/` all use it, so it lives apart from tests/.
"""
