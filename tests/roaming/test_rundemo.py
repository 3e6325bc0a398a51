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
