"""`manage.py demo`: set up a demo team on the built-in emulator and run the studio.

Migrates, creates a demo admin user and a team whose credentials point at the
emulator, then runs the web server and one django-q2 worker together until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from generations.models import Credential, CredentialKind, Membership, Role, Team

DEMO_USER = "demo"
DEMO_TEAM = "demo"


def demo_password() -> str:
    """One random password per checkout, kept beside the database and printed each run."""
    path = Path(settings.DATA_DIR) / "demo-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(9) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


@transaction.atomic
def ensure_demo_team(base_url: str) -> tuple[Any, Team]:
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=DEMO_USER,
        defaults={"email": "demo@example.com", "is_staff": True, "is_superuser": True},
    )
    if created or not user.check_password(demo_password()):
        user.set_password(demo_password())
        user.save()
    team, _ = Team.objects.get_or_create(
        slug=DEMO_TEAM, defaults={"name": "Demo team", "quota_cny": Decimal("200.00")}
    )
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
    _ensure_credential(
        team,
        user,
        label="Emulator (Volcengine)",
        kind=CredentialKind.VOLCENGINE,
        endpoint=f"{base_url}/sandbox/volcengine/",
        access_key=settings.SANDBOX_ACCESS_KEY,
        secret=settings.SANDBOX_SECRET_KEY,
        default=True,
    )
    _ensure_credential(
        team,
        user,
        label="Emulator (gateway)",
        kind=CredentialKind.GATEWAY,
        endpoint=f"{base_url}/sandbox/gateway",
        access_key="",
        secret=settings.SANDBOX_GATEWAY_KEY,
        default=False,
    )
    _ensure_credential(
        team,
        user,
        label="Emulator (Ark)",
        kind=CredentialKind.ARK,
        endpoint=f"{base_url}/sandbox/ark/api/v3",
        access_key="",
        secret=settings.SANDBOX_ARK_KEY,
        default=False,
    )
    return user, team


def _ensure_credential(
    team: Team,
    user: Any,
    *,
    label: str,
    kind: str,
    endpoint: str,
    access_key: str,
    secret: str,
    default: bool,
) -> None:
    credential = team.credentials.filter(label=label).first() or Credential(
        team=team, label=label, kind=kind, created_by=user, is_default=default
    )
    credential.endpoint = endpoint
    credential.set_secrets(access_key=access_key, secret=secret)
    credential.save()


def emulator_seconds() -> float:
    """How long the emulator takes to make a video: what the demo's workers expect until
    they have learned it, so that the first query comes near the end (not after the
    production default of a minute) and the cards show each step."""
    low = settings.SANDBOX_GENERATION_SECONDS
    high = max(low, settings.SANDBOX_GENERATION_SECONDS_MAX)
    return max(1.0, (low + high) / 2)


class Command(BaseCommand):
    help = "Run the studio with a demo team on the built-in API emulator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--setup-only", action="store_true", help="set up, do not serve")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "the demo runs on the built-in emulator: unset SANDBOX_ENABLED=false"
            )
        host, port = options["host"], options["port"]
        base_url = f"http://{host}:{port}"
        call_command("migrate", interactive=False, verbosity=0)
        ensure_demo_team(base_url)
        if options["setup_only"]:
            self.stdout.write("Demo team ready.")
            return
        self._serve(host, port, base_url)

    def _serve(self, host: str, port: int, base_url: str) -> None:
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        # The worker reaches the emulator here (the address rules allow only this one),
        # and Ark's callbacks reach the studio here.
        os.environ["SANDBOX_URL"] = f"{base_url}/sandbox/"
        os.environ.setdefault("PUBLIC_BASE_URL", base_url)
        os.environ.setdefault("POLL_EXPECTED_SECONDS", f"{emulator_seconds():g}")
        # Each in its own process group, stopped below as a group: a terminal's Ctrl-C
        # would reach only some of them when the demo runs under make or a script.
        processes = [
            subprocess.Popen(  # noqa: S603
                [*manage, "runserver", f"{host}:{port}", "--noreload"], start_new_session=True
            ),
            subprocess.Popen([*manage, "qcluster"], start_new_session=True),  # noqa: S603
        ]
        stop = {"now": False}

        def request_stop(*_: object) -> None:
            stop["now"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            if self._wait_for(f"{base_url}/healthz", processes, stop):
                self.stdout.write(
                    self.style.SUCCESS(
                        f"\nJimeng Studio is running at {base_url}/\n"
                        f"  sign in as: {DEMO_USER} / {demo_password()}\n"
                        f"  admin:      {base_url}/admin/\n"
                        "Press Ctrl-C to stop the web server and the worker.\n"
                    )
                )
            while not stop["now"] and all(p.poll() is None for p in processes):
                time.sleep(0.3)
        finally:
            self._stop(processes)

    @staticmethod
    def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
        """SIGINT to every process of each group, as Ctrl-C in a terminal sends it: the
        cluster stops gracefully and its workers end their dispatchers' slices at once
        (a SIGTERM would reach only the cluster, which then waits out the slices)."""
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        deadline = time.monotonic() + 15
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    @staticmethod
    def _wait_for(
        url: str, processes: list[subprocess.Popen[bytes]], stop: dict[str, bool]
    ) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not stop["now"]:
            if any(p.poll() is not None for p in processes):
                return False
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
                    return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        return False
