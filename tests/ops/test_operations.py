"""Operations: health endpoints, structured logs without secrets, jobs_status, and
production mode brought up with `make serve` and `make worker`."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from generations.models import Generation, Status
from jimeng_web.logs import JsonFormatter, RedactSecrets, TextFormatter
from tests.cast import add_credential
from tests.paths import ROOT
from tests.pipeline import FAST_PIPELINE, drive, make_job


@pytest.mark.django_db
def test_healthz_is_cheap_and_needs_no_login(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_broker_and_storage() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}


@pytest.mark.django_db
def test_readyz_reports_unreachable_storage(settings) -> None:
    from django.core.files.storage import storages

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "b",
                "endpoint_url": f"http://127.0.0.1:{closed}",
                "access_key": "x",
                "secret_key": "y",
                "region_name": "us-east-1",
            },
        },
    }
    storages._storages.pop("default", None)
    try:
        response = Client().get("/readyz")
    finally:
        storages._storages.pop("default", None)
    assert response.status_code == 503
    assert (
        response.json()["checks"]["storage"] != "ok"
        and response.json()["checks"]["database"] == "ok"
    )


def _capture(logger: str) -> tuple[logging.Handler, list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RedactSecrets())
    logging.getLogger(logger).addHandler(handler)
    return handler, records


def test_pipeline_lines_carry_job_team_and_request_id(cast, emulator, settings) -> None:
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    add_credential(cast.team, emulator.volcengine_url)
    handler, records = _capture("generations.pipeline")
    try:
        (job,) = drive([make_job(cast.team, prompt="logged [sandbox:faults=50500]").pk])
    finally:
        logging.getLogger("generations.pipeline").removeHandler(handler)
    lines = [json.loads(JsonFormatter().format(record)) for record in records]
    assert len(lines) >= 3  # submitted, a failed query, done, ready
    for line in lines:
        assert line["job"] == job.pk and line["team"] == cast.team.pk and line["level"] == "INFO"
    assert all(line.get("request_id") for line in lines)
    assert any("task" in line["message"] for line in lines)
    text = TextFormatter().format(records[0])
    assert f"job={job.pk}" in text and f"team={cast.team.pk}" in text


def test_anything_shaped_like_a_secret_is_redacted() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "sent Authorization: HMAC-SHA256 Credential=AKLTsecretId/20260314/cn-north-1/cv/request, "
        "Signature=abc and Bearer sk-live-123 and gAAAAABn" + "x" * 40,
        None,
        None,
    )
    RedactSecrets().filter(record)
    message = record.getMessage()
    assert (
        "AKLTsecretId" not in message and "sk-live-123" not in message and "gAAAAABn" not in message
    )
    assert message.count("[redacted]") >= 2


@pytest.mark.django_db
def test_jobs_status_shows_the_queue_at_a_glance(cast) -> None:
    add_credential(cast.team)
    old, due = make_job(cast.team), make_job(cast.team)
    Generation.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(minutes=5),
        status=Status.GENERATING,
        next_action_at=timezone.now() - timedelta(seconds=30),
    )
    Generation.objects.filter(pk=due.pk).update(
        next_action_at=timezone.now() + timedelta(minutes=5)
    )
    out = io.StringIO()
    call_command("jobs_status", stdout=out)
    text = out.getvalue()
    assert "generating   1" in text and "queued       1" in text
    assert f"#{old.pk} (team-a, generating, 300 s old)" in text
    assert "poll backlog       1 due now, most overdue 30" in text
    data = json.loads(_json_status())
    assert data["in_flight"] == 2 and data["counts"]["ready"] == 0


def _json_status() -> str:
    out = io.StringIO()
    call_command("jobs_status", "--json", stdout=out)
    return out.getvalue()


# --- production mode --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _make(target: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["make", "--no-print-directory", target],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> int:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


@pytest.mark.slow
def test_make_serve_and_make_worker_run_in_production_mode(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    server = _make("serve", env, serve_log)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or listening while its workers still boot (slow when
                # the other test worker keeps both cores busy): ask again.
                time.sleep(0.5)
        else:
            pytest.fail("make serve did not answer:\n" + serve_log.read_text()[-3000:])
        worker = _make("worker", env, worker_log)
        log = serve_log.read_text()
        assert "System check identified no issues" in log and "gunicorn" in log.lower()
        page = requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5)
        assert page.status_code == 200
        cookie = page.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        stylesheet = page.text.split('href="/static/css/')[1].split('"')[0]
        assert stylesheet.count(".") == 2  # studio.<hash>.css: hashed for caching forever
        static = requests.get(
            f"http://127.0.0.1:{port}/static/css/{stylesheet}",
            headers={"Accept-Encoding": "gzip"},
            timeout=5,
        )
        assert (
            static.headers["Content-Encoding"] == "gzip"
            and "immutable" in static.headers["Cache-Control"]
        )
        missing = requests.get(f"http://127.0.0.1:{port}/no/such/page", timeout=5)
        assert missing.status_code == 404 and "Traceback" not in missing.text  # DEBUG is off
        emulator = requests.post(f"http://127.0.0.1:{port}/sandbox/volcengine/", timeout=5)
        assert emulator.status_code == 404  # the emulator is off in production
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.json()["status"] == "ready"
        deadline = time.monotonic() + 60
        while "running" not in worker_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "running" in worker_log.read_text(), worker_log.read_text()[-2000:]
        _stop(worker)
    finally:
        _stop(server)
    assert (tmp_path / "data" / "production.env").stat().st_mode & 0o777 == 0o600


@pytest.mark.django_db
def test_the_demo_team_has_a_key_for_each_emulated_upstream(settings, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    call_command("demo", "--setup-only", "--port", "8123", stdout=io.StringIO())
    from generations.models import Team

    team = Team.objects.get(slug="demo")
    endpoints = dict(team.credentials.values_list("kind", "endpoint"))
    assert endpoints == {
        "volcengine": "http://127.0.0.1:8123/sandbox/volcengine/",
        "gateway": "http://127.0.0.1:8123/sandbox/gateway",
        "ark": "http://127.0.0.1:8123/sandbox/ark/api/v3",
    }
    assert (tmp_path / "demo-password").stat().st_mode & 0o777 == 0o600


MAKE_JOBS = """
from generations.jimeng import catalog
from generations.jimeng.payload import GenerationInput
from generations.models import Team
from generations.services import jobs
team = Team.objects.get(slug="demo")
for n in range(3):
    request = GenerationInput(prompt=f"a long one {n} [sandbox:seconds=120]", seconds=5)
    jobs.start_generation(
        team=team, user=None, mode=catalog.get_mode("t2v_720p"), request=request, frames=[]
    )
"""


@pytest.mark.slow
def test_the_demo_stops_within_seconds_of_ctrl_c_while_jobs_run(tmp_path: Path) -> None:
    """Ctrl-C used to wait out the running dispatchers' slices (20 s and more)."""
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "DATA_DIR": str(tmp_path / "data"),
        "DEBUG": "true",
        "LOG_LEVEL": "INFO",
        "POLL_EXPECTED_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    manage = [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "manage.py")]
    log = tmp_path / "demo.log"
    demo = subprocess.Popen(
        [*manage, "demo", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while "is running at" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert "is running at" in log.read_text(), log.read_text()[-3000:]
        subprocess.run([*manage, "shell", "-c", MAKE_JOBS], env=env, check=True)
        deadline = time.monotonic() + 30
        while "submitted as task" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.3)  # a dispatcher is running its slice
        assert "submitted as task" in log.read_text(), log.read_text()[-3000:]
        started = time.monotonic()
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends the demo (and the terminal group)
        demo.wait(timeout=30)
        assert time.monotonic() - started < 5, log.read_text()[-3000:]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        subprocess.run(["pkill", "-f", f"{tmp_path}"], check=False)
