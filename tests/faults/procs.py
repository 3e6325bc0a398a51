"""Real processes for the fault and load tests: a private Redis and a private PostgreSQL cluster (each on
a port of its own, never the machine's 6379 or 5432), gunicorn serving the platform, Celery workers that
can be SIGKILLed. Each is started and stopped by the test that owns it."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from bench.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_closed(port: int, seconds: float = 30.0) -> None:
    """Until nothing listens on `port` any more (a stopped server has let go of it)."""
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
        except OSError:
            return
        time.sleep(0.05)
    raise TimeoutError(f"127.0.0.1:{port} still listens after {seconds} s")


class PrivateRedis:
    """redis-server on a free port, without persistence: stopping it loses whatever it held, as a crashed
    Redis does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None
            _wait_closed(self.port)


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise FileNotFoundError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class PrivatePostgres:
    """A PostgreSQL cluster of our own: initdb into a temporary directory, its own port and socket directory.
    Restarting it is what this class is for; the machine's cluster on 5432 is never touched."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="emsp-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = "postgres"
        as_root = os.geteuid() == 0
        if as_root:  # initdb refuses root: the cluster runs as the postgres system user
            shutil.chown(self.dir, "postgres", "postgres")
        self._prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust", "--no-sync")

    def _run(self, *command: str) -> None:
        subprocess.run([*self._prefix, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def url(self, name: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start"
        )

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: the server exits at once, as on a crash; connections are cut mid-transaction."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> None:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a platform process: production settings (bench.settings: DEBUG off, plain HTTP)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "PYTHONUNBUFFERED": "1", **extra}
    return env


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 2, threads: int = 4) -> Iterator[str]:
    """The platform served by gunicorn on a free port: its base URL (also the OCPI URLs it hands out)."""
    port = free_port()
    env = {"OCPI_BASE_URL": f"http://127.0.0.1:{port}/ocpi", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.wsgi", "-b", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", str(threads), "--log-level", "warning", "--keep-alive", "30", "--graceful-timeout", "5"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


class Worker:
    """A Celery worker process (prefork, one child) on every queue of `settings.TASK_QUEUES` (what the
    per-queue workers of docker-compose.yml do together); `kill` is SIGKILL to the whole process group: the
    worker and its child die mid-task, nothing is acknowledged or cleaned up."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.queues = ",".join(settings.TASK_QUEUES)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "emsp", "worker", "--pool=prefork", "--concurrency=1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", self.queues, "--loglevel=WARNING"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def kill(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None
