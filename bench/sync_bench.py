"""Full and incremental pull of a big CPO network from the simulator (issue 5 targets:
20,000 locations / 100,000 EVSEs / 200,000 connectors in under 60 s and 300 MB; 1% changed in 3 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

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


def bench_sync(*, locations: int, seed: int = 42) -> dict[str, Any]:
    from roaming.services.partners import register_with

    sim = SimProcess(seed=seed, locations=locations, country_code="NL", party_id="BIG", page_limit=1000)
    try:
        size = sim.call("count")
        partner = register_with(versions_url=sim.info["versions_url"], token_a=sim.info["token_a"])
        full = run_sync(partner.pk, "locations", "full")
        changed = sim.call("change", count=max(1, locations // 100))
        incremental = run_sync(partner.pk, "locations", "incremental")
        tariffs = run_sync(partner.pk, "tariffs", "full")
    finally:
        sim.stop()
    return {
        "network": size,
        "full": full,
        "changed": changed,
        "incremental": incremental,
        "tariffs": tariffs,
        "partner_id": partner.pk,
    }
