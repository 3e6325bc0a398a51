"""Full and incremental pull of a big CPO network from the simulator (issue 5 targets:
20,000 locations / 100,000 EVSEs / 200,000 connectors in under 60 s and 300 MB; 1% changed in 3 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import requests

from .servers import ROOT, env
from .simproc import SimProcess


def run_sync(partner_id: int, module: str, mode: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.sync_run", str(partner_id), module, mode],
        cwd=ROOT,
        env=env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def simulator_side(partner: Any) -> dict[str, Any]:
    """The simulator's share of a full pull: every locations page fetched alone, time to its headers summed
    (the simulator renders a page before it sends them). Keeps the CPO side of a pull measured apart from ours."""
    from roaming.ocpi.client import encode_token

    headers = {"Authorization": f"Token {encode_token(partner.outgoing_token, base64_encoded=partner.token_base64)}"}
    url: str | None = f"{partner.endpoint_url('locations', 'SENDER')}?limit=1000"
    seconds, pages = 0.0, 0
    with requests.Session() as session:
        while url:
            response = session.get(url, headers=headers, timeout=120)
            response.raise_for_status()
            seconds += response.elapsed.total_seconds()
            pages += 1
            url = response.links.get("next", {}).get("url")
    return {"seconds": round(seconds, 2), "pages": pages}


def bench_sync(*, locations: int, seed: int = 42) -> dict[str, Any]:
    from roaming.services.partners import register_with

    sim = SimProcess(seed=seed, locations=locations, country_code="NL", party_id="BIG", page_limit=1000)
    try:
        size = sim.call("count")
        partner = register_with(versions_url=sim.info["versions_url"], token_a=sim.info["token_a"])
        full = run_sync(partner.pk, "locations", "full")
        simulator = simulator_side(partner)
        changed = sim.call("change", count=max(1, locations // 100))
        incremental = run_sync(partner.pk, "locations", "incremental")
        tariffs = run_sync(partner.pk, "tariffs", "full")
    finally:
        sim.stop()
    return {
        "network": size,
        "full": full,
        "simulator": simulator,
        "changed": changed,
        "incremental": incremental,
        "tariffs": tariffs,
        "partner_id": partner.pk,
    }
