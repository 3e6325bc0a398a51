"""The CPO simulator in a child process, driven through a pipe: a separate process (it does not share
our GIL, as a real partner would not), yet steerable through its Python API (change 1% of the network)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any


def _serve(conn: Connection, config: dict[str, Any]) -> None:
    import logging

    from cposim import SimConfig, Simulator

    logging.basicConfig(level=logging.WARNING)
    sim = Simulator(SimConfig(**config)).start()
    conn.send({"versions_url": sim.versions_url, "token_a": sim.token_a})
    while True:
        command, args = conn.recv()
        if command == "stop":
            sim.stop()
            conn.send(None)
            return
        if command == "change":
            ids = sim.location_ids()[: args["count"]]
            for location_id in ids:
                evse = sim.location(location_id)["evses"][0]
                status = "OUTOFORDER" if evse["status"] != "OUTOFORDER" else "AVAILABLE"
                sim.set_evse_status(location_id, evse["uid"], status, push=False)
            conn.send(len(ids))
        elif command == "count":
            locations = [sim.location(i) for i in sim.location_ids()]
            conn.send(
                {
                    "locations": len(locations),
                    "evses": sum(len(x["evses"]) for x in locations),
                    "connectors": sum(len(e["connectors"]) for x in locations for e in x["evses"]),
                }
            )


class SimProcess:
    def __init__(self, **config: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, config), daemon=True)
        self._process.start()
        self.info: dict[str, Any] = self._conn.recv()

    def call(self, command: str, **args: Any) -> Any:
        self._conn.send((command, args))
        return self._conn.recv()

    def stop(self) -> None:
        self.call("stop")
        self._process.join(timeout=30)
