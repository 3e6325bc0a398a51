"""The load tests use the fault tests' fixtures: the test database for processes of our own, the pricing audit."""

from tests.faults.conftest import on_postgres, pricing_audit  # noqa: F401 - fixtures
