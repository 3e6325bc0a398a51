"""A full pull of a 20,000-location network stays fast on the simulator side."""

from __future__ import annotations

import json
import re
import time
from typing import Any

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def test_pull_20000_locations_page_by_page(make_sim: Any, emsp: Any, client_factory: Any) -> None:
    sim = make_sim(locations=20_000)
    sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    client = client_factory(sim, sim.inbound_token)
    url: str | None = f"{sim.version_url}/locations?limit=1000"
    locations = evses = connectors = pages = 0
    server_seconds = 0.0
    began = time.monotonic()
    while url:
        response = client.get(url)
        assert response.status_code == 200
        # elapsed = until the headers arrived, which the simulator sends after rendering the page
        server_seconds += response.elapsed.total_seconds()
        for location in json.loads(response.content)["data"]:
            locations += 1
            evses += len(location["evses"])
            connectors += sum(len(e["connectors"]) for e in location["evses"])
        pages += 1
        link = response.headers.get("Link")
        url = match.group("url") if link and (match := LINK.match(link)) else None
    wall = time.monotonic() - began
    assert (locations, pages) == (20_000, 20)
    assert 96_000 <= evses <= 106_000
    assert 192_000 <= connectors <= 212_000
    assert server_seconds < 15, f"simulator side took {server_seconds:.1f}s"
    assert wall < 30
