"""The simulator serves a 20,000-location network whole, page by page.

How fast it does is measured by `make bench` (bench/sync_bench.py: the simulator side of a full pull),
not here: a busy machine would fail a timing assertion by chance.
"""

from __future__ import annotations

import json
import re
from typing import Any

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def test_pull_20000_locations_page_by_page(make_sim: Any, emsp: Any, client_factory: Any) -> None:
    sim = make_sim(locations=20_000)
    sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    client = client_factory(sim, sim.inbound_token)
    url: str | None = f"{sim.version_url}/locations?limit=1000"
    locations = evses = connectors = pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        for location in json.loads(response.content)["data"]:
            locations += 1
            evses += len(location["evses"])
            connectors += sum(len(e["connectors"]) for e in location["evses"])
        pages += 1
        link = response.headers.get("Link")
        url = match.group("url") if link and (match := LINK.match(link)) else None
    assert (locations, pages) == (20_000, 20)
    assert 96_000 <= evses <= 106_000
    assert 192_000 <= connectors <= 212_000
