"""Security: CSRF on every POST, share-token strength and constant-time comparison,
production cookies, security headers on every page, and no secret anywhere."""

from __future__ import annotations

import hmac
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from generations.models import Credential, ShareLink
from tests.cast import PASSWORD, add_credential, make_user
from tests.pipeline import FAST_PIPELINE, drive, make_job
from tests.test_access_matrix import ALL, _objects, _url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.security


@pytest.fixture
def world(cast):  # type: ignore[no-untyped-def]
    return cast, _objects(cast.team)


# Called by machines, not browsers: no cookie is involved, so no CSRF token either. Each
# is authenticated by an unguessable per-job URL (tests/test_ark_pipeline.py).
MACHINE_ENDPOINTS = {"ark-callback"}
BROWSER_ROUTES = [(n, r) for n, r, _ in ALL if n not in MACHINE_ENDPOINTS]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), BROWSER_ROUTES, ids=[n for n, _ in BROWSER_ROUTES])
def test_every_post_needs_a_csrf_token(world, name: str, route: str) -> None:
    cast, objects = world
    for who in ("owner", "anonymous"):
        client = Client(enforce_csrf_checks=True)
        if who == "owner":
            client.force_login(cast.owner)
        response = client.post(_url(route, objects), {"anything": "1"})
        assert response.status_code == 403, f"{who} POST {name} → {response.status_code}"
        assert b"Form expired" in response.content  # the CSRF refusal, not a role check


@pytest.mark.django_db
def test_share_keys_carry_at_least_128_random_bits(cast) -> None:
    links = [ShareLink.new(team=cast.team) for _ in range(50)]
    secrets = {link.secret for link in links}
    assert len(secrets) == 50
    # token_urlsafe: 6 bits per character; the public id only finds the row.
    assert all(len(secret) * 6 >= 128 for secret in secrets)


@pytest.mark.django_db
def test_share_key_comparison_is_constant_time(cast) -> None:
    link = ShareLink.new(team=cast.team)
    link.save()
    with mock.patch(
        "generations.models.sharing.hmac.compare_digest", autospec=True, wraps=hmac.compare_digest
    ) as compare:
        assert ShareLink.find(link.key) == link
        assert ShareLink.find(link.public_id + "x" * len(link.secret)) is None
    assert compare.call_count == 2
    assert compare.call_args_list[0].args == (link.secret.encode(), link.secret.encode())


def test_production_cookies_are_secure_and_httponly(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
        "DEBUG": "false",
        "SECRET_KEY": "k" * 60,
        "CREDENTIALS_KEYS": "eXLtq9k1oDHNbYpbQPx3bg9JkQmlv2M5Zx1s1lM8b0A=",
        "DATA_DIR": str(tmp_path),
    }
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS, s.DEBUG, "
        "s.SANDBOX_ENABLED]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [True, True, True, True, 31536000, False, False]


@pytest.mark.django_db
def test_session_cookie_flags_on_sign_in() -> None:
    make_user("ana")
    with override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True):
        response = Client().post(
            reverse("login"), {"username": "ana", "password": PASSWORD}, secure=True
        )
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"


def _check_headers(response, where: str) -> None:  # type: ignore[no-untyped-def]
    policy = response.headers.get("Content-Security-Policy", "")
    scripts = next(
        (part for part in policy.split(";") if part.strip().startswith("script-src")), ""
    )
    assert scripts.strip() == "script-src 'self'", f"{where}: {policy!r}"
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where


@pytest.mark.django_db
def test_security_headers_on_every_page(world) -> None:
    cast, objects = world
    owner = cast.client("owner")
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    for name, route, _ in ALL:
        url = _url(route, objects)
        for client, who in ((owner, "owner"), (Client(), "anonymous")):
            _check_headers(client.get(url), f"{who} GET {name}")
    for url in ("/admin/", "/admin/generations/team/", "/no/such/page/", reverse("login")):
        _check_headers(operator.get(url), url)


AK = "AKLTleakCanaryAccessKey7Q"
SK = "leak-canary-secret-9d2f71a6c0"


def test_the_secret_key_is_nowhere(cast, emulator, settings, caplog) -> None:
    """Save a key, use it for real, break it, and look for it in every page, every
    admin page, every error answer and every log line."""
    caplog.set_level(logging.DEBUG)
    settings.SANDBOX_ACCESS_KEY, settings.SANDBOX_SECRET_KEY = AK, SK
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    owner = cast.client("owner")
    owner.post(
        reverse("credential-create", args=["team-a"]),
        {
            "kind": "volcengine",
            "label": "canary",
            "endpoint": emulator.volcengine_url,
            "access_key": AK,
            "secret": SK,
            "max_qps": "",
        },
    )
    credential = Credential.objects.get(label="canary")
    owner.post(reverse("credential-test", args=["team-a", credential.pk]))
    (job,) = drive([make_job(cast.team, prompt="canary run").pk])
    assert job.status == "ready"
    broken = add_credential(
        cast.team,
        emulator.volcengine_url,
        access_key=AK,
        secret=SK + "x",
        default=False,
        label="broken",
    )
    answers = [owner.post(reverse("credential-test", args=["team-a", broken.pk]), follow=True)]
    objects = _objects(cast.team)
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    for _name, route, _ in ALL:
        answers.append(owner.get(_url(route, objects)))
    for url in (
        "/admin/generations/credential/",
        f"/admin/generations/credential/{credential.pk}/change/",
        f"/admin/generations/team/{cast.team.pk}/change/",
        "/admin/generations/generation/",
        f"/admin/generations/generation/{job.pk}/change/",
        "/admin/generations/ledgerentry/",
        "/admin/django_q/ormq/",
        "/admin/django_q/success/",
        "/no/such/page/",
    ):
        answers.append(operator.get(url))
    answers.append(Client(enforce_csrf_checks=True).post(reverse("login"), {}))
    texts = [b"".join(a.streaming_content) if a.streaming else a.content for a in answers]
    texts.append(caplog.text.encode())
    for text in texts:
        assert SK.encode() not in text and AK.encode() not in text
