"""Work done after an HTTP answer was sent (CommandResults and what follows them)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("cposim")

Job = Callable[[], None]


class Outbox:
    """Runs jobs in order on one worker thread (or inline); `flush()` waits until all are done.

    A job is registered *before* the HTTP answer is written and released right after it, so a
    client that got the answer and then calls `flush()` always waits for that job. One worker keeps
    the order of callbacks deterministic (CommandResult before session PUT, first command first).
    """

    def __init__(self, *, asynchronous: bool = True) -> None:
        self.asynchronous = asynchronous
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._inline = 0
        self._inline_done = threading.Condition()

    def start(self) -> None:
        if self.asynchronous and self._thread is None:
            self._thread = threading.Thread(target=self._work, name="cposim-outbox", daemon=True)
            self._thread.start()

    def hold(self, job: Job) -> Callable[[], None]:
        """Register `job`; it runs once the returned release function is called."""
        if self._thread is not None:
            gate = threading.Event()

            def gated() -> None:
                gate.wait(timeout=30)
                job()

            self._queue.put(gated)
            return gate.set
        with self._inline_done:
            self._inline += 1

        def release() -> None:
            try:
                _run(job)
            finally:
                with self._inline_done:
                    self._inline -= 1
                    self._inline_done.notify_all()

        return release

    def flush(self) -> None:
        if self._thread is not None:
            self._queue.join()
        with self._inline_done:
            self._inline_done.wait_for(lambda: self._inline == 0, timeout=60)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                _run(job)
            finally:
                self._queue.task_done()


def _run(job: Job) -> None:
    try:
        job()
    except Exception:
        log.exception("outgoing job failed")
