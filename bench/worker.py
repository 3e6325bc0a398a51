"""The gunicorn worker the benchmarks run: gthread, with keep-alive connections spread evenly over workers.

The load generator holds 16 keep-alive connections for a whole run, so whichever worker accepts a connection
serves all of its requests. With one listening socket per worker (`--reuse-port`) the kernel hashes each
connection to a worker: measured here, one worker got 8 of the 16 and answered them in 47 ms on average while
another answered its 2 in 10 ms; p99 doubled. With one shared socket and `--worker-connections` at the fair
share, a worker stops accepting once it holds its share, as a load balancer in front of production would
spread the requests. Stock gthread also counts idle kept-alive connections against that number and closes
busy connections once `worker_connections - threads` are idle; this worker keeps them all.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class EvenThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_keepalived = self.worker_connections
