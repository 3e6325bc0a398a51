"""Fixtures of the support view's tests: the driver's day (data.py), a staff client, and the OCPI clients."""

from tests.backoffice.support.data import staff_client, story  # noqa: F401 - fixtures
from tests.billing.conftest import ocpi  # noqa: F401 - fixture
from tests.roaming.conftest import cpo  # noqa: F401 - fixture
