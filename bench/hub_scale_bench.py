"""A hub's scale (issue 18, part 6): a full pull of 200,000 locations / ~1,000,000 EVSEs, against two yardsticks
measured in the same run, since this machine's speed varies threefold from day to day:

- the floor (bench.pull_baseline): the same pages fetched, parsed with `json` and COPYed into tables with the
  same indexes; target: the pull takes at most twice as long;
- linearity: the 200,000-location pull costs at most 10.5 times the 20,000-location one.
And the syncing process's peak RSS under 400 MB at 200,000 locations. Like every bench, it prints this machine's
bare-view throughput measured in the same run (`bench.admin_bench.baseline`), before the pulls and after them.

`python -m bench.hub_scale_bench [small big]` runs it alone (sizes in locations).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import requests

from .servers import DATABASE_URL, ROOT, env, free_port, fresh_database, gunicorn
from .simproc import SimProcess
from .sync_bench import run_sync

SMALL, BIG = 20_000, 200_000
RATIO_TARGET, LINEARITY_TARGET, RSS_TARGET_MB = 2.0, 10.5, 400


def run_baseline(partner_id: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.pull_baseline", str(partner_id)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"bench.pull_baseline failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _one(locations: int, party_id: str) -> dict[str, Any]:
    from roaming.services.partners import register_with

    sim = SimProcess(seed=11, locations=locations, country_code="NL", party_id=party_id, page_limit=1000)
    try:
        partner = register_with(versions_url=sim.info["versions_url"], token_a=sim.info["token_a"])
        pull = run_sync(partner.pk, "locations", "full")
        baseline = run_baseline(partner.pk)
    finally:
        sim.stop()
    return {"pull": pull, "baseline": baseline, "ratio": pull["seconds"] / baseline["seconds"]}


def bench_hub_scale(*, small: int = SMALL, big: int = BIG, seconds: float = 10.0) -> dict[str, Any]:
    """Both sizes, each pulled once and its floor measured right after (same pages, same machine state), between
    two measures of the bare view (`seconds` each)."""
    from .admin_bench import baseline

    results: dict[str, Any] = {"bare_view": baseline(seconds)}
    results |= {"small": _one(small, "HSS"), "big": _one(big, "HSB")}
    results["bare_view_after"] = baseline(seconds)
    results["linearity"] = results["big"]["pull"]["seconds"] / results["small"]["pull"]["seconds"]
    results["sizes"] = (small, big)
    return results


def rows(results: dict[str, Any], mark: Any) -> list[tuple[str, str, str, str]]:
    """The README table's rows for this section."""
    small, big = results["sizes"]
    b = results["big"]
    return [
        (
            f"hub-scale full pull, {b['baseline']['locations']:,} locations / {b['baseline']['evses']:,} EVSEs",
            f"{b['pull']['seconds']:.0f} s, peak RSS {b['pull']['peak_rss_mb']:.0f} MB",
            f"RSS < {RSS_TARGET_MB} MB",
            mark(b["pull"]["peak_rss_mb"] < RSS_TARGET_MB),
        ),
        (
            "  its floor in the same run: same pages, `json`, COPY into the same indexes",
            f"{b['baseline']['seconds']:.0f} s: pull / floor = {b['ratio']:.2f}",
            f"<= {RATIO_TARGET:g}",
            mark(b["ratio"] <= RATIO_TARGET),
        ),
        (
            f"  linearity: the {big:,}-location pull / the {small:,}-location one",
            f"{results['linearity']:.2f} ({results['small']['pull']['seconds']:.1f} s; floor ratio "
            f"{results['small']['ratio']:.2f})",
            f"<= {LINEARITY_TARGET * big / small / 10:g}",
            mark(results["linearity"] <= LINEARITY_TARGET * big / small / 10),
        ),
        (
            "  bare Django view in the same run (one UPDATE), 16 clients, before / after the pulls",
            f"{results['bare_view']['rps']} req/s, p99 {results['bare_view']['p99_ms']} ms / "
            f"{results['bare_view_after']['rps']} req/s, p99 {results['bare_view_after']['p99_ms']} ms",
            "",
            "",
        ),
    ]


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:3]] or [SMALL, BIG]
    port = free_port()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": DATABASE_URL,
            "OCPI_BASE_URL": f"http://127.0.0.1:{port}/ocpi",
        }
    )
    sys.path.insert(0, str(ROOT))
    fresh_database()
    import django

    django.setup()
    with gunicorn(port=port, workers=2, threads=1):  # the simulator reads our versions as we register
        for _ in range(4):  # each worker loads the application at its first request: not inside a handshake
            requests.get(f"http://127.0.0.1:{port}/ocpi/versions", timeout=120)
        results = bench_hub_scale(small=sizes[0], big=sizes[1])
    print(json.dumps(results, indent=2, default=str))
    for row in rows(results, lambda ok: "met" if ok else "not met"):
        print(" | ".join(row))


if __name__ == "__main__":
    main()
