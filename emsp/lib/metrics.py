"""Counters and latency histograms of this process, in the Prometheus text format (no client library: the format
is a few lines of text, https://prometheus.io/docs/instrumenting/exposition_formats/).

Recording is in memory under one lock: a few dict operations, no I/O, so the OCPI hot path (EVSE status
PATCHes, benchmarked near bare Django) pays microseconds, not a database write.

Several processes (gunicorn workers, Celery workers) each count their own. With METRICS_DIR set, every process
writes its counts to `<METRICS_DIR>/<host>-<pid>.json` every METRICS_FLUSH_SECONDS (a background thread, and at
exit), and a scrape adds up the files of every process: the totals of every process that shares the directory
(a volume shared by the web and worker containers), whichever gunicorn worker answers. Files of processes that
ended stay, so totals do not drop when a worker is recycled; a new process that gets an old host and pid takes
its file over (Prometheus sees a counter reset). Clearing the directory when the web service starts drops the
files of ended processes only: live ones write theirs again within METRICS_FLUSH_SECONDS. A scrape sees
another process's counts up to METRICS_FLUSH_SECONDS late. Without METRICS_DIR each process reports only its
own counts: right for one process (`make run`), misleading behind several workers.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

#: Seconds; from a status PATCH (a few ms) to a slow CPO page (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Labels = tuple[tuple[str, str], ...]

_lock = threading.Lock()
_counters: dict[str, dict[Labels, float]] = {}
# Per histogram and labels: the count per bucket (the last one is +Inf), and the sum of the observations.
_histograms: dict[str, dict[Labels, list[float]]] = {}
_help: dict[str, tuple[str, str]] = {}  # name -> (type, help)
_flusher: threading.Thread | None = None


def describe(name: str, kind: str, text: str) -> None:
    """The HELP and TYPE lines of a metric."""
    _help[name] = (kind, text)


def inc(name: str, labels: dict[str, str] | Labels, value: float = 1.0) -> None:
    """Add to a counter. `labels` as a dict, or (on a hot path) as (name, value) pairs sorted by name."""
    key = labels if isinstance(labels, tuple) else tuple(sorted(labels.items()))
    with _lock:
        series = _counters.setdefault(name, {})
        series[key] = series.get(key, 0.0) + value
    _start_flusher()


def observe(name: str, labels: dict[str, str] | Labels, seconds: float) -> None:
    """Count a duration in a histogram (LATENCY_BUCKETS); `labels` as for `inc`."""
    key = labels if isinstance(labels, tuple) else tuple(sorted(labels.items()))
    with _lock:
        series = _histograms.setdefault(name, {})
        counts = series.get(key)
        if counts is None:
            counts = series[key] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # le: the first bound >= seconds, else +Inf
        counts[-1] += seconds
    _start_flusher()


def exposition(gauges: Iterable[tuple[str, dict[str, str], float]] = ()) -> str:
    """Every counter and histogram (of all processes with METRICS_DIR), then `gauges` (name, labels, value)."""
    counters, histograms = _collected()
    lines: list[str] = []
    for name in sorted(counters):
        _header(lines, name)
        for key, value in sorted(counters[name].items()):
            lines.append(f"{name}{_labels(key)} {_number(value)}")
    for name in sorted(histograms):
        _header(lines, name)
        for key, counts in sorted(histograms[name].items()):
            cumulative = 0.0
            for bound, count in zip((*LATENCY_BUCKETS, "+Inf"), counts[:-1], strict=True):
                cumulative += count
                lines.append(f"{name}_bucket{_labels((*key, ('le', str(bound))))} {_number(cumulative)}")
            lines.append(f"{name}_count{_labels(key)} {_number(cumulative)}")
            lines.append(f"{name}_sum{_labels(key)} {counts[-1]!r}")
    seen: set[str] = set()
    for name, labels, value in gauges:
        if name not in seen:
            seen.add(name)
            _header(lines, name)
        lines.append(f"{name}{_labels(tuple(sorted(labels.items())))} {_number(value)}")
    return "\n".join(lines) + "\n"


def reset() -> None:
    """Forget this process's counts (tests)."""
    with _lock:
        _counters.clear()
        _histograms.clear()


def flush() -> None:
    """Write this process's counts to its file in METRICS_DIR (no-op without one)."""
    directory = _directory()
    if directory is None:
        return
    with _lock:
        snapshot = {
            "counters": {name: [[list(k), v] for k, v in series.items()] for name, series in _counters.items()},
            "histograms": {name: [[list(k), c] for k, c in series.items()] for name, series in _histograms.items()},
        }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{socket.gethostname()}-{os.getpid()}.json"  # a directory shared by containers
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(snapshot))
    os.replace(temporary, path)  # a scrape never reads half a file


# --- internals ------------------------------------------------------------------------------------------------


def _directory() -> Path | None:
    value = settings.METRICS_DIR
    return Path(value) if value else None


def _start_flusher() -> None:
    global _flusher
    if _flusher is not None or not settings.METRICS_DIR:
        return
    with _lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
    _flusher.start()
    atexit.register(flush)


def _after_fork_in_child() -> None:
    """A forked process (gunicorn and Celery prefork workers) counts afresh, in a file of its own, with a flusher
    thread of its own: the parent's counts are the parent's, and its thread does not exist in the child."""
    global _lock, _flusher
    _lock = threading.Lock()
    _flusher = None
    _counters.clear()
    _histograms.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _flush_forever() -> None:
    while True:
        time.sleep(settings.METRICS_FLUSH_SECONDS)
        try:
            flush()
        except Exception:
            logger.exception("could not write the metrics file")


def _collected() -> tuple[dict[str, dict[Labels, float]], dict[str, dict[Labels, list[float]]]]:
    """This process's counts, or with METRICS_DIR every process's (this one's written first)."""
    directory = _directory()
    if directory is None:
        with _lock:
            return (
                {name: dict(series) for name, series in _counters.items()},
                {name: {key: list(counts) for key, counts in series.items()} for name, series in _histograms.items()},
            )
    flush()
    counters: dict[str, dict[Labels, float]] = {}
    histograms: dict[str, dict[Labels, list[float]]] = {}
    for path in directory.glob("*.json"):
        try:
            snapshot = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a file being replaced at this moment; its counts are back at the next scrape
        for name, rows in snapshot.get("counters", {}).items():
            series = counters.setdefault(name, {})
            for key, value in rows:
                labels = _key(key)
                series[labels] = series.get(labels, 0.0) + value
        for name, rows in snapshot.get("histograms", {}).items():
            hseries = histograms.setdefault(name, {})
            for key, counts in rows:
                labels = _key(key)
                total = hseries.setdefault(labels, [0.0] * len(counts))
                for index, count in enumerate(counts):
                    total[index] += count
    return counters, histograms


def _key(pairs: Sequence[Sequence[str]]) -> Labels:
    return tuple((str(name), str(value)) for name, value in pairs)


def _header(lines: list[str], name: str) -> None:
    kind, text = _help.get(name, ("untyped", ""))
    if text:
        lines.append(f"# HELP {name} {text}")
    lines.append(f"# TYPE {name} {kind}")


def _labels(key: Labels) -> str:
    if not key:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in key) + "}"


def _escape(value: str) -> str:
    """Label values escape backslash, double quote and line feed (the format's only rule)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
