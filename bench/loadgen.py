"""A small HTTP/1.1 load generator: N keep-alive connections on loopback, pre-built requests,
per-request latency, as fast as answers come or at a fixed rate. asyncio streams and no HTTP library,
so it costs little CPU next to the server it measures (both share this machine's two cores)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: Sorts an answer (HTTP status, body) into a kind the caller counts, e.g. "applied" or "ignored".
Classifier = Callable[[int, bytes], str]


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    reconnects: int = 0  # answers that closed their connection (Connection: close): a new one was opened
    kinds: Counter[str] = field(default_factory=Counter)  # answers by the run's classifier, if it has one

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def summary(self) -> str:
        return (
            f"{self.requests} requests in {self.seconds:.2f} s = {self.throughput:.0f} req/s, "
            f"p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms, "
            f"mean {statistics.fmean(self.latencies_ms) if self.latencies_ms else 0:.1f} ms, "
            f"errors {self.errors}, reconnects {self.reconnects}, statuses {self.statuses}"
        )


def build_request(method: str, path: str, host: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """The status, whether the server keeps the connection open, and the body."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    keep_alive = True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
    body = await reader.readexactly(length) if length else b""
    return status, keep_alive, body


async def _worker(
    host: str,
    port: int,
    requests: Sequence[bytes],
    start: int,
    step: int,
    deadline: float,
    result: LoadResult,
    interval: float | None,
    classify: Classifier | None = None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = start
    # Paced: this connection's sends are scheduled `interval` apart (offset per connection), and latency
    # counts from the scheduled time, so a slow answer that delays the next send is not hidden.
    scheduled = time.perf_counter() + (interval * start / step if interval else 0.0)
    try:
        while index < len(requests) and time.monotonic() < deadline:
            if interval:
                await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                sent = scheduled
                scheduled += interval
            else:
                sent = time.perf_counter()
            writer.write(requests[index])
            try:
                status, keep_alive, body = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                index += step
                continue
            result.latencies_ms.append((time.perf_counter() - sent) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if classify is not None:
                result.kinds[classify(status, body)] += 1
            if status >= 400:
                result.errors += 1
            result.requests += 1
            index += step
            if not keep_alive:
                result.reconnects += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _run(
    host: str,
    port: int,
    requests: Sequence[bytes],
    connections: int,
    seconds: float,
    rate: float | None,
    classify: Classifier | None,
) -> LoadResult:
    result = LoadResult(requests=0, errors=0, seconds=0.0, latencies_ms=[], statuses={})
    started = time.monotonic()
    deadline = started + seconds
    interval = connections / rate if rate else None
    await asyncio.gather(
        *(
            _worker(host, port, requests, i, connections, deadline, result, interval, classify)
            for i in range(connections)
        )
    )
    result.seconds = time.monotonic() - started
    return result


def run_load(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    connections: int = 16,
    seconds: float = 10.0,
    rate: float | None = None,
    classify: Classifier | None = None,
) -> LoadResult:
    """Send `requests` (each used once, spread over the connections) until done or `seconds` pass: each
    connection sends its next request as soon as it has the answer, or, with `rate`, the connections
    together send `rate` requests a second on a fixed schedule. With `classify`, answers are also counted by
    the kind it gives them (`LoadResult.kinds`)."""
    return asyncio.run(_run(host, port, requests, connections, seconds, rate, classify))
