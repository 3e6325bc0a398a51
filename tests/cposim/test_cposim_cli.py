"""`python -m cposim serve`: starts, registers, runs live, and stops cleanly on SIGTERM."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from cposim.__main__ import build_parser, config_from, hub_config_from

ROOT = Path(__file__).resolve().parents[2]


def test_flags_map_onto_the_config() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--port",
            "9100",
            "--seed",
            "7",
            "--locations",
            "12",
            "--regions",
            "nl,de",
            "--error-share",
            "0.2",
            "--wrong-total-share",
            "0.1",
            "--raw-token",
            "--db",
            "x.sqlite",
            "--session-id-prefix=S19A2B3C4-",
        ]
    )
    config = config_from(args)
    assert (config.port, config.seed, config.locations, config.regions) == (9100, 7, 12, ("NL", "DE"))
    assert config.chaos.error_share == 0.2
    assert config.wrong_total_share == 0.1
    assert config.encode_outgoing_token is False
    assert config.db_path == "x.sqlite"
    assert config.session_id_prefix == "S19A2B3C4-"


class Output:
    """Lines of a child process's stdout, waited for without sleeping."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout

        def pump() -> None:
            for line in stream:
                self.lines.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, text: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            self.seen.append(line)
            if text in line:
                return line


def test_serve_registers_runs_live_and_stops_on_sigterm(emsp: Any) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cposim",
            "serve",
            "--port",
            "0",
            "--locations",
            "10",
            "--register-with",
            f"{emsp.base_url}/emsp/versions",
            f"--token-a={emsp.token_a}",  # a token may start with "-"
            "--live",
            "--status-rate",
            "50",
            "--session-every",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        versions_url = output.wait_for("versions URL:").split()[-1]
        token_a = output.wait_for("token A:").split()[-1]
        output.wait_for("registered with the EMSP")
        output.wait_for("-> PATCH")
        # registered, so token A is spent; the token we gave the EMSP works
        assert requests.get(versions_url, headers={"Authorization": f"Token {token_a}"}, timeout=5).status_code == 401
        headers = {"Authorization": f"Token {emsp.token_for_sim}"}
        assert requests.get(versions_url, headers=headers, timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        output.wait_for("stopped")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert any("/emsp/2.2.1/locations/NL/SIM/" in r.path for r in emsp.calls("PATCH"))


def test_hub_flags_map_onto_the_config() -> None:
    args = build_parser().parse_args(
        ["hub", "--port", "9200", "--cpos", "4", "--locations", "6", "--party-id", "HBX", "--page-limit", "50"]
    )
    config = hub_config_from(args)
    assert (config.port, config.cpos, config.locations, config.party_id, config.page_limit) == (9200, 4, 6, "HBX", 50)


def test_hub_registers_relays_live_pushes_and_stops_on_sigterm(emsp: Any) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cposim",
            "hub",
            "--port",
            "0",
            "--locations",
            "3",
            "--register-with",
            f"{emsp.base_url}/emsp/versions",
            f"--token-a={emsp.token_a}",
            "--live",
            "--status-rate",
            "50",
            "--session-every",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        assert output.wait_for("parties:").split(":", 1)[1].split() == ["NL/AAA,", "BE/BBB,", "DE/CCC"]
        output.wait_for(f"registered with the EMSP at {emsp.base_url}")
        output.wait_for(f"-> PATCH {emsp.base_url}/emsp/2.2.1/locations/")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        output.wait_for("stopped")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [r.path.rsplit("/", 2)[1:] for r in emsp.calls("PUT", "/hubclientinfo/")] == [
        ["NL", "AAA"],
        ["BE", "BBB"],
        ["DE", "CCC"],
    ]
    patch = emsp.calls("PATCH", "/emsp/2.2.1/locations/")[0]
    party = patch.path.split("/")[4:6]
    assert [patch.headers["OCPI-from-country-code"], patch.headers["OCPI-from-party-id"]] == party
    assert party in (["NL", "AAA"], ["BE", "BBB"], ["DE", "CCC"])
