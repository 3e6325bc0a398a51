"""`make run`'s demo driver charging from the app, against the CPO simulator (tests/conftest.py's `sim`, `cpo`)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.django_db(transaction=True)
def test_the_demo_app_starts_a_session_then_stops_it_from_the_app(cpo: Any, sim: Any) -> None:
    """`make run`'s demo driver charges from the app too: start, then, once it has run a while, stop."""
    from drivers.models import Token
    from drivers.services import token_issue
    from roaming.management.commands.rundemo import APP_SESSION, demo_app_turn
    from roaming.models import ChargingSession, Command
    from tests.billing.factories import a_driver

    driver = a_driver("Dana Driver")
    token_issue(driver=driver, uid="DEMO-APP-1", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)

    assert demo_app_turn(driver=driver, partner=cpo).startswith("start sent for ")
    assert demo_app_turn(driver=driver, partner=cpo) == "waiting for the charger"
    sim.flush()
    session = ChargingSession.objects.get(driver=driver)
    assert session.token is not None
    assert (session.status, session.token.type) == ("ACTIVE", Token.Type.APP_USER)
    # (The simulator's clock stands in March 2025: the app's "now" follows it.)
    assert demo_app_turn(driver=driver, partner=cpo, now=session.start_date_time) == f"charging ({session.ocpi_id})"

    later = session.start_date_time + APP_SESSION
    assert demo_app_turn(driver=driver, partner=cpo, now=later) == f"stop sent for {session.ocpi_id}"
    sim.flush()
    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert list(Command.objects.filter(token__driver=driver).values_list("type", flat=True).order_by("pk")) == [
        "START_SESSION",
        "STOP_SESSION",
    ]
