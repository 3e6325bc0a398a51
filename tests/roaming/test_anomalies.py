"""Anomaly flags: each rule finds exactly the sessions or CDRs it should, as a list filter and as a count."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from drivers.models import Token
from drivers.services import token_issue
from roaming.admin.anomalies import anomaly_changelist_url
from roaming.models import Cdr, ChargingSession, Connector, Evse, Location, Partner
from roaming.selectors_anomalies import ANOMALIES, anomalies_count
from tests.roaming.fakecpo import make_driver

pytestmark = pytest.mark.django_db

_serial = itertools.count(1)
NOW = timezone.now()


@pytest.fixture
def partner(cpo: tuple[Partner, str]) -> Partner:
    return cpo[0]


def _location(partner: Partner, ocpi_id: str = "LOC1") -> Location:
    return Location.objects.create(
        partner=partner, country_code="BE", party_id="BEC", ocpi_id=ocpi_id, address="Street 1", city="Gent",
        country="BEL", latitude=Decimal("51.05"), longitude=Decimal("3.72"), last_updated=NOW,
    )  # fmt: skip


def _connector(evse: Evse, ocpi_id: str, power_type: str, volts: int, amps: int, watts: int | None = None) -> None:
    Connector.objects.create(
        evse=evse, ocpi_id=ocpi_id, standard="IEC_62196_T2", format="SOCKET", power_type=power_type,
        max_voltage=volts, max_amperage=amps, max_electric_power=watts, last_updated=NOW,
    )  # fmt: skip


def _session(
    partner: Partner, token: Token | None, *, status: str = "ACTIVE", started_hours_ago: float = 1, uid: str = ""
) -> ChargingSession:
    n = next(_serial)
    return ChargingSession.objects.create(
        partner=partner, country_code="BE", party_id="BEC", ocpi_id=f"S{n}", status=status,
        start_date_time=NOW - timedelta(hours=started_hours_ago), kwh=Decimal("3.2"), auth_method="AUTH_REQUEST",
        ocpi_location_id="LOC1", evse_uid="E1", connector_id="1", currency="EUR",
        token_uid=token.uid if token else uid, token_type="RFID", contract_id=token.contract_id if token else "",
        token=token, driver=token.driver if token else None, last_updated=NOW,
    )  # fmt: skip


def _cdr(
    partner: Partner,
    *,
    location: Location | None,
    connector: str = "1",
    evse: str = "E1",
    hours: str = "1",
    kwh: str = "10",
    session: ChargingSession | None,
) -> Cdr:
    n = next(_serial)
    return Cdr.objects.create(
        partner=partner, country_code="BE", party_id="BEC", ocpi_id=f"CDR{n}", start_date_time=NOW,
        end_date_time=NOW + timedelta(hours=float(hours)), ocpi_session_id=session.ocpi_id if session else f"S-{n}",
        session=session, token_uid="04A1B2C3", token_type="RFID", contract_id="NL-EMS-C1", auth_method="WHITELIST",
        location=location, cdr_location={"id": "LOC1", "evse_uid": evse, "connector_id": connector},
        currency="EUR", total_cost_excl_vat=Decimal("5"), total_energy=Decimal(kwh), total_time=Decimal(hours),
        charging_periods=[], raw={}, content_hash=f"{n:040d}", last_updated=NOW,
    )  # fmt: skip


@pytest.fixture
def world(partner: Partner) -> dict[str, set[str]]:
    """Sessions and CDRs, some of each flagged; returns the ocpi ids each anomaly must find."""
    driver = make_driver()
    a, b, c, d = (token_issue(driver=driver, uid=f"CARD{x}") for x in "ABCD")
    expected: dict[str, set[str]] = {anomaly.key: set() for anomaly in ANOMALIES}

    # Card A charges in two places at once; its ended session is no anomaly.
    expected["card_in_several_sessions"] |= {_session(partner, a).ocpi_id, _session(partner, a).ocpi_id}
    _session(partner, a, status="COMPLETED")
    # Card B: one active session and one still pending (not charging yet).
    _session(partner, b)
    _session(partner, b, status="PENDING")
    # A token we do not know, twice: not one of our cards.
    _session(partner, None, uid="STRANGER")
    _session(partner, None, uid="STRANGER")
    # Card C active for 25 hours; card D for 23; an old session that ended.
    expected["active_over_24h"].add(_session(partner, c, started_hours_ago=25).ocpi_id)
    _session(partner, d, started_hours_ago=23)
    ended = _session(partner, d, status="COMPLETED", started_hours_ago=30)

    location = _location(partner)
    evse = Evse.objects.create(location=location, uid="E1", last_updated=NOW)
    _connector(evse, "1", "AC_3_PHASE", 230, 16)  # 11.04 kW
    _connector(evse, "2", "DC", 500, 125, watts=50_000)  # 50 kW, though 500 V x 125 A would be 62.5
    _connector(evse, "3", "AC_1_PHASE", 230, 32)  # 7.36 kW
    _connector(evse, "4", "AC_2_PHASE", 230, 16)  # 7.36 kW (one phase would be 3.68)

    def over(**fields: Any) -> None:
        expected["energy_beyond_power"].add(_cdr(partner, location=location, session=ended, **fields).ocpi_id)

    def within(**fields: Any) -> None:
        _cdr(partner, location=location, session=ended, **fields)

    within(connector="1", hours="1", kwh="11.04")
    within(connector="1", hours="1", kwh="11.1")  # within the 1 % a meter may read above
    over(connector="1", hours="1", kwh="11.2")
    within(connector="2", hours="0.5", kwh="25")
    over(connector="2", hours="0.5", kwh="26")  # max_electric_power counts, not volts x amps
    over(connector="3", hours="1", kwh="8")  # one phase
    within(connector="4", hours="1", kwh="7")  # two phases
    over(connector="1", hours="0", kwh="0.5")
    within(connector="9", hours="0.1", kwh="500")  # a connector we do not hold: not judged
    within(evse="E9", hours="0.1", kwh="500")  # an EVSE we do not hold: not judged
    _cdr(partner, location=None, session=ended, kwh="500", hours="0.1")  # a location we do not hold yet
    # CDRs without a session (one of them also beyond its connector's power).
    expected["without_session"].add(_cdr(partner, location=location, session=None, kwh="5").ocpi_id)
    beyond = _cdr(partner, location=location, session=None, connector="3", kwh="50")
    expected["without_session"].add(beyond.ocpi_id)
    expected["energy_beyond_power"].add(beyond.ocpi_id)
    return expected


@pytest.mark.parametrize("anomaly", ANOMALIES, ids=lambda a: a.key)
def test_each_anomaly_finds_exactly_its_rows(world: dict[str, set[str]], anomaly: Any) -> None:
    assert set(anomaly.rows().values_list("ocpi_id", flat=True)) == world[anomaly.key]


def test_anomalies_are_counted_for_the_start_page(world: dict[str, set[str]]) -> None:
    assert anomalies_count() == {key: len(ids) for key, ids in world.items()}
    assert anomalies_count() == {
        "card_in_several_sessions": 2,
        "active_over_24h": 1,
        "energy_beyond_power": 5,
        "without_session": 2,
    }


@pytest.mark.parametrize("anomaly", ANOMALIES, ids=lambda a: a.key)
def test_each_anomaly_is_a_list_filter_in_words(admin_client: Client, world: dict[str, set[str]], anomaly: Any) -> None:
    response = admin_client.get(anomaly_changelist_url(anomaly))
    assert response.status_code == 200
    assert {row.ocpi_id for row in response.context["cl"].result_list} == world[anomaly.key]
    assert escape(anomaly.title) in response.content.decode()


def test_nothing_is_flagged_in_an_ordinary_day(partner: Partner) -> None:
    driver = make_driver()
    card = token_issue(driver=driver, uid="CARD")
    session = _session(partner, card, status="COMPLETED")
    _session(partner, card)
    location = _location(partner)
    evse = Evse.objects.create(location=location, uid="E1", last_updated=NOW)
    _connector(evse, "1", "AC_3_PHASE", 230, 32)
    _cdr(partner, location=location, session=session, hours="2.5", kwh="40")
    assert set(anomalies_count().values()) == {0}
