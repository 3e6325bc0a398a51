"""`make run`'s simulator command line, as the simulator's own parser reads it."""

from __future__ import annotations

import pytest

from cposim.__main__ import build_parser
from roaming.management.commands.rundemo import simulator_command


@pytest.mark.parametrize("token_a", ["-Xy3_token", "--looks-like-an-option", "plain_token-with-dash"])
def test_simulator_reads_token_a_that_starts_with_a_dash(token_a: str) -> None:
    command = simulator_command(
        port=8001, locations=40, versions_url="http://127.0.0.1:8000/ocpi/versions", token_a=token_a
    )
    assert command[1:4] == ["-m", "cposim", "serve"]
    args = build_parser().parse_args(command[3:])
    assert args.token_a == token_a
    assert (args.port, args.locations, args.seed, args.live) == (8001, 40, 42, True)
    assert args.register_with == "http://127.0.0.1:8000/ocpi/versions"


def test_the_demo_simulator_publishes_a_few_wrong_totals_so_disputes_show_up() -> None:
    command = simulator_command(
        port=8001, locations=40, versions_url="http://127.0.0.1:8000/ocpi/versions", token_a="t"
    )
    assert "--wrong-total-share=0.15" in command


def test_each_demo_start_gives_the_simulator_new_session_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator forgets its sessions when `make run` stops: a new prefix per start keeps the ids of its new
    sessions apart from those we hold from the last run."""
    import roaming.management.commands.rundemo as rundemo

    def prefix(at: float) -> str:
        monkeypatch.setattr(rundemo.time, "time", lambda: at)
        command = simulator_command(port=8001, locations=4, versions_url="http://x/ocpi/versions", token_a="t")
        return str(build_parser().parse_args(command[3:]).session_id_prefix)

    assert prefix(1_790_000_000.0) != prefix(1_790_000_001.0)


@pytest.mark.django_db
def test_the_demo_driver_has_three_cards_that_charge_and_a_lost_one_the_simulator_tries_now_and_then() -> None:
    from drivers.models import Token
    from drivers.selectors import token_with_verdict
    from roaming.management.commands.rundemo import Command

    for _ in range(2):  # idempotent
        Command()._demo_driver()
    cards = Token.objects.filter(type=Token.Type.RFID).order_by("uid")
    assert [card.uid for card in cards] == ["DEMO0001", "DEMO0002", "DEMO0003", "DEMO0004"]
    verdicts = [token_with_verdict(card.uid)[1].why for card in cards]  # type: ignore[index]
    assert verdicts == ["allowed", "allowed", "allowed", "blocked"]
