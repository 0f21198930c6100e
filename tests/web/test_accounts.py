"""Sign up, sign in with rate limits, sign out, password change and reset."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.cast import PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_sign_up_creates_an_account_and_signs_in() -> None:
    client = Client()
    response = client.post(
        reverse("signup"),
        {
            "username": "newcomer",
            "email": "New@Example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("team-list")
    user = get_user_model().objects.get(username="newcomer")
    assert user.email == "new@example.com"
    assert client.get(reverse("team-list")).status_code == 200


def test_sign_up_errors_are_shown_in_the_users_language() -> None:
    make_user("taken")
    response = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").post(
        reverse("signup"),
        {
            "username": "someone",
            "email": "taken@example.com",
            "password1": "short",
            "password2": "other",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "输入的两个密码不一致" in page  # the mismatched passwords, in Chinese
    assert "taken@example.com" not in page.replace('value="taken@example.com"', "")
    assert get_user_model().objects.filter(username="someone").count() == 0


def test_sign_in_and_out() -> None:
    make_user("ana")
    client = Client()
    response = client.post(reverse("login"), {"username": "ana", "password": PASSWORD})
    assert response.status_code == 302
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("team-list")).status_code == 302  # signed out again


def test_wrong_password_is_refused() -> None:
    make_user("ana")
    response = Client().post(reverse("login"), {"username": "ana", "password": "nope"})
    assert response.status_code == 200 and b"errorlist" in response.content


def test_sign_in_is_rate_limited_per_account_and_address(settings) -> None:
    settings.SIGNIN_LIMIT_PER_ACCOUNT = 5
    make_user("ana")
    for _ in range(5):
        Client(REMOTE_ADDR="10.0.0.1").post(reverse("login"), {"username": "ana", "password": "x"})
    # Even the right password from that address waits now...
    response = Client(REMOTE_ADDR="10.0.0.1").post(
        reverse("login"), {"username": "ANA", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert b"Too many sign-in attempts" in response.content
    # ...but the guesser cannot lock the owner out from elsewhere.
    owner = Client(REMOTE_ADDR="10.0.1.1")
    signed_in = owner.post(reverse("login"), {"username": "ana", "password": PASSWORD})
    assert signed_in.status_code == 302


def test_sign_in_is_rate_limited_per_address(settings) -> None:
    settings.SIGNIN_LIMIT_PER_IP = 20
    make_user("ana")
    for number in range(20):
        Client(REMOTE_ADDR="10.9.9.9").post(
            reverse("login"), {"username": f"guess{number}", "password": "x"}
        )
    response = Client(REMOTE_ADDR="10.9.9.9").post(
        reverse("login"), {"username": "ana", "password": PASSWORD}
    )
    assert response.status_code == 429
    other = Client(REMOTE_ADDR="10.9.9.10").post(
        reverse("login"), {"username": "ana", "password": PASSWORD}
    )
    assert other.status_code == 302


def test_password_change() -> None:
    user = make_user("ana")
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-password-7",
            "new_password2": "another-long-password-7",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-password-7")


def test_password_reset_by_mail() -> None:
    user = make_user("ana")
    client = Client()
    response = client.post(reverse("password_reset"), {"email": "ana@example.com"})
    assert response.status_code == 302 and len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {
            "new_password1": "reset-long-password-9",
            "new_password2": "reset-long-password-9",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("reset-long-password-9")


def test_console_mail_by_default_and_smtp_when_configured() -> None:
    import subprocess
    import sys

    def backend(extra: dict[str, str]) -> str:
        code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
        env = {"DJANGO_SETTINGS_MODULE": "jimeng_web.settings", "PATH": "/usr/bin", **extra}
        return subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert backend({}).endswith("console.EmailBackend")
    assert backend({"EMAIL_HOST": "smtp.example.com"}).endswith("smtp.EmailBackend")
