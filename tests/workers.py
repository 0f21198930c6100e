"""Real `qcluster` worker processes on the test database, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import TEST_CREDENTIALS_KEYS

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 5.0


def database_url() -> str:
    """The URL of the database this test process uses, for its child processes."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{db['NAME']}"


def worker_environment(tmp: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
        "DATABASE_URL": database_url(),
        "DATA_DIR": str(tmp / "worker-data"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CREDENTIALS_KEYS": ",".join(TEST_CREDENTIALS_KEYS),
        "Q_WORKERS": "3",
        "Q_TIMEOUT": "30",
        "Q_RETRY": "40",
        "Q_POLL": "0.1",
        "Q_MAX_ATTEMPTS": "5",
        "DISPATCH_SLICE_SECONDS": "10",
        "DISPATCH_LEASE_SECONDS": "3",
        "ARCHIVE_LEASE_SECONDS": "10",
        "POLL_EXPECTED_SECONDS": "3",
        "POLL_MIN_INTERVAL": "0.5",
        "POLL_MAX_INTERVAL": "3",
        "JIMENG_QUERY_TIMEOUT": "1",
        "JIMENG_SUBMIT_TIMEOUT": "10",
        "SUBMIT_LEASE_SECONDS": "40",
        "UPSTREAM_QPS": "20",
        "SANDBOX_ENABLED": "false",
        # The emulator runs in the test process (live server); workers reach it there.
        "SANDBOX_URL": settings.SANDBOX_URL,
        "LOG_LEVEL": "INFO",
    }
    for name in ("Q_BROKER", "MEDIA_STORAGE"):
        if name in os.environ:
            env[name] = os.environ[name]
    # As this test process resolved them: under pytest-xdist, its worker's own databases.
    for name in ("REDIS_URL", "CACHE_URL", "LIMITER_REDIS_URL"):
        if getattr(settings, name):
            env[name] = getattr(settings, name)
    env.update(overrides)
    return env


@dataclass
class Worker:
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)
    kills: int = 0

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the cluster and every process it forked, as a crash would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def terminate(self) -> None:
        """Ask the cluster to stop, as Ctrl-C does (to every process of the group),
        without waiting for it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)

    def reap(self, deadline: float) -> None:
        """Wait until `deadline` (monotonic) for a terminated cluster, then SIGKILL it.
        The test is over and every job's state is in the database, so a cluster slow to
        wind down (django-q2 waits out its workers) need not hold up the suite."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self._log:
            self._log.close()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self.terminate()
        self.reap(time.monotonic() + grace)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Worker] = []

    from django_q.brokers import get_broker

    # Earlier tests enqueue tasks no worker ran; with Redis they outlive the test.
    get_broker().purge_queue()

    def start(**overrides: str) -> Worker:

        worker = Worker(
            worker_environment(tmp_path, **overrides), tmp_path / f"worker-{len(started)}.log"
        )
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:  # all at once: their grace periods run side by side
        worker.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for worker in started:
        worker.reap(deadline)


def wait_for(predicate, timeout: float, what: str, worker: Worker | None = None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    from generations.models import Generation

    states = list(Generation.objects.values_list("pk", "status", "lease_owner", "next_action_at"))
    detail = f"\njobs: {states}" + (f"\nworker log:\n{worker.log_tail()}" if worker else "")

    pytest.fail(f"timed out after {timeout}s waiting for {what}{detail}")
