"""Cookies secure and HttpOnly in production and on sign-in; security headers on every
page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.cast import PASSWORD, make_user
from tests.web.routes import ALL, url_of

pytestmark = pytest.mark.security


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


@pytest.mark.django_db
def test_security_headers_on_every_page(routed) -> None:
    cast, objects = routed
    owner = cast.client("owner")
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    for name, route, _ in ALL:
        url = url_of(route, objects)
        for client, who in ((owner, "owner"), (Client(), "anonymous")):
            _check_headers(client.get(url), f"{who} GET {name}")
    for url in ("/admin/", "/admin/generations/team/", "/no/such/page/", reverse("login")):
        _check_headers(operator.get(url), url)
