"""A real stack for benchmarks and chaos: a throwaway database, the emulator served by
its own web process, and qcluster workers, all on 127.0.0.1.

`Stack` sets the environment before Django starts in this process too, so the calling
script can create jobs and read results through the ORM.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
# `bench/run.py --smoke`: every benchmark on a handful of jobs, to show it still runs
# (make test does this); its figures mean nothing and are never written down.
SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def sized(full: Any, smoke: Any) -> Any:
    """A benchmark's size: the real one, or the smoke run's."""
    return smoke if SMOKE else full


SANDBOX_AK, SANDBOX_SK = "AKLTbenchAccessKey", "bench-secret-key"
SANDBOX_ARK_KEY = "bench-ark-key"
BENCH_PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        """As Ctrl-C stops it: SIGINT to every process of its group. (With SIGTERM to the
        group, django-q2's sentinel dies at once and its cluster waits for it forever.)"""
        if not self.alive:
            return
        os.killpg(self.popen.pid, signal.SIGINT)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def pids(self) -> list[int]:
        """This process and everything it started, from /proc."""
        found, frontier = [], [self.popen.pid]
        while frontier:
            pid = frontier.pop()
            found.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            frontier += [int(child) for child in children]
        return found


# Every process a stack started in this Python process, so that a benchmark that fails
# (or is interrupted) stops them all: see stop_everything().
_STARTED: list[Process] = []


def stop_everything() -> None:
    for process in reversed(_STARTED):
        process.stop()


@dataclass
class Stack:
    name: str
    pg: bool = False
    root: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    processes: list[Process] = field(default_factory=list)
    emulator_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.root = ROOT / "var" / ("bench-smoke" if SMOKE else "bench") / self.name
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        from cryptography.fernet import Fernet

        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
            "DEBUG": "true",
            "DATA_DIR": str(self.root),
            "SECRET_KEY": secrets.token_urlsafe(40),
            "CREDENTIALS_KEYS": Fernet.generate_key().decode(),
            "SANDBOX_ENABLED": "true",
            "SANDBOX_ACCESS_KEY": SANDBOX_AK,
            "SANDBOX_SECRET_KEY": SANDBOX_SK,
            "SANDBOX_ARK_KEY": SANDBOX_ARK_KEY,
            "SANDBOX_DIR": str(self.root / "sandbox"),
            "SANDBOX_URL": f"http://127.0.0.1:{self.emulator_port}/sandbox/",
            "LOG_LEVEL": "WARNING",
            "DEFAULT_TEAM_QUOTA_CNY": "",
        }
        if self.pg:
            database = self.database_name
            if _psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'") == "1":
                _psql(f"DROP DATABASE {database} WITH (FORCE)")
            _psql(f"CREATE DATABASE {database}")
            self.env.update(
                {
                    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
                    "Q_BROKER": "redis",
                    "REDIS_URL": "redis://127.0.0.1:6379/2",
                    "CACHE_URL": "redis://127.0.0.1:6379/3",
                    "Q_NAME": f"bench-{self.name}",
                }
            )
            import redis

            redis.Redis.from_url("redis://127.0.0.1:6379/2").flushdb()
            redis.Redis.from_url("redis://127.0.0.1:6379/3").flushdb()

    @property
    def database_name(self) -> str:
        return f"jimeng_{'smoke_' if SMOKE else ''}{self.name}"

    def django(self, **overrides: str) -> None:
        """Set up Django in this process on this stack."""
        os.environ.update({**self.env, **overrides})
        import django

        django.setup()

    def production_site(self, hosts: str) -> tuple[Any, Any]:
        """Switch this stack to the production settings (for every process it starts from
        now on), migrate and collect static files as `make serve` does, set Django up
        here, and create a team owned by user `bench` (password BENCH_PASSWORD)."""
        self.env.update({"DEBUG": "false", "HTTPS": "false", "ALLOWED_HOSTS": hosts})
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.django()
        from django.contrib.auth import get_user_model

        from generations.models import Membership, Role, Team

        user = get_user_model().objects.create_user("bench", password=BENCH_PASSWORD)
        team = Team.objects.create(name="Bench", slug="bench")
        Membership.objects.create(team=team, user=user, role=Role.OWNER)
        return user, team

    def emulator_team(self, slug: str) -> Any:
        """A team whose default key is the emulator's (start the emulator first)."""
        from generations.models import Credential, Team

        team = Team.objects.create(name=slug.title(), slug=slug)
        credential = Credential(
            team=team,
            kind="volcengine",
            label="emulator",
            is_default=True,
            endpoint=f"{self.emulator_url}/sandbox/volcengine/",
        )
        credential.set_secrets(access_key=SANDBOX_AK, secret=SANDBOX_SK)
        credential.save()
        return team

    def ark_team(self, slug: str) -> Any:
        """A team whose default key is an Ark key on the emulator (start the emulator first)."""
        from generations.models import Credential, Team

        team = Team.objects.create(name=slug.title(), slug=slug)
        credential = Credential(
            team=team,
            kind="ark",
            label="emulator (Ark)",
            is_default=True,
            endpoint=f"{self.emulator_url}/sandbox/ark/api/v3",
        )
        credential.set_secrets(access_key="", secret=SANDBOX_ARK_KEY)
        credential.save()
        return team

    def manage(self, *args: str, **overrides: str) -> None:
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env={**self.env, **overrides},
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def _start(self, name: str, command: list[str], **overrides: str) -> Process:
        log = self.root / f"{name}.log"
        popen = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *command],
            env={**self.env, **overrides},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log)
        self.processes.append(process)
        _STARTED.append(process)
        return process

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    def start_emulator(self, **overrides: str) -> Process:
        process = self._start(
            "emulator", ["runserver", f"127.0.0.1:{self.emulator_port}", "--noreload"], **overrides
        )
        _wait_for(f"{self.emulator_url}/healthz", process)
        return process

    def start_worker(self, name: str = "worker", **overrides: str) -> Process:
        return self._start(name, ["qcluster"], **overrides)

    def start_gunicorn(self, workers: int, **overrides: str) -> tuple[Process, str]:
        """The studio as production serves it; returns the process and its base URL."""
        port = free_port()
        log = self.root / "gunicorn.log"
        popen = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "jimeng_web.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
            ],
            env={**self.env, **overrides},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            start_new_session=True,
        )
        process = Process("gunicorn", popen, log)
        self.processes.append(process)
        _STARTED.append(process)
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/healthz", process)
        return process, base

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    # --- outages ------------------------------------------------------------------

    def database_outage(self, seconds: float) -> None:
        """Make the database unavailable: refuse and cut connections (PostgreSQL), or hold
        an exclusive lock so every writer fails once its busy timeout runs out (SQLite)."""
        if self.pg:
            _psql(f"ALTER DATABASE {self.database_name} WITH ALLOW_CONNECTIONS false")
            _psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{self.database_name}'"
            )
            time.sleep(seconds)
            _psql(f"ALTER DATABASE {self.database_name} WITH ALLOW_CONNECTIONS true")
            return
        import sqlite3

        locker = sqlite3.connect(self.root / "db.sqlite3", timeout=30, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        locker.execute("ROLLBACK")
        locker.close()


def _wait_for(url: str, process: Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback only
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not start: {process.log.read_text()[-2000:]}")


def sign_in(base: str, username: str, password: str) -> requests.Session:
    """A browser-like session signed in through the login form."""
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("the login page has no CSRF token")
    answer = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": base},
        allow_redirects=False,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"signing in failed: HTTP {answer.status_code}")
    return session


def process_usage(pids: list[int]) -> tuple[float, int, int]:
    """(CPU seconds, sum of peak RSS in bytes, largest peak RSS) of these processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, peaks = 0.0, []
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        peak = next(
            (line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB"
        )
        peaks.append(int(peak.split()[1]) * 1024)
    return cpu, sum(peaks), max(peaks, default=0)
