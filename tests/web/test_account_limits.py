"""What anyone can reach without an account: sign-in, sign-up and reset are throttled
for every process alike, by the right client address, and reveal no email."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from generations.models import (
    Throttle,
)
from tests.cast import PASSWORD, make_user

pytestmark = pytest.mark.security


def _sign_up(username: str, email: str, address: str = "10.1.1.1"):  # type: ignore[no-untyped-def]
    return Client(REMOTE_ADDR=address).post(
        reverse("signup"),
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )


@pytest.mark.django_db
def test_sign_in_counts_are_shared_by_every_process(settings) -> None:
    from django.core.cache import cache

    settings.SIGNIN_LIMIT_PER_ACCOUNT = 3
    make_user("ana")
    for _ in range(3):
        Client().post(reverse("login"), {"username": "ana", "password": "wrong"})
        cache.clear()  # each gunicorn worker has its own memory: the count must not live there
    refused = Client().post(reverse("login"), {"username": "ana", "password": PASSWORD})
    assert refused.status_code == 429 and Throttle.objects.exists()


@pytest.mark.django_db
def test_the_client_address_is_read_from_the_right_of_forwarded_for(settings) -> None:
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.SIGNIN_LIMIT_PER_ACCOUNT = 3
    make_user("ana")
    for number in range(3):  # the guesser makes up a new left-most value each time
        Client(HTTP_X_FORWARDED_FOR=f"1.2.3.{number}, 10.0.0.9").post(
            reverse("login"), {"username": "ana", "password": "wrong"}
        )
    spoofed = Client(HTTP_X_FORWARDED_FOR="9.9.9.9, 10.0.0.9")
    assert (
        spoofed.post(reverse("login"), {"username": "ana", "password": PASSWORD}).status_code == 429
    )
    owner = Client(HTTP_X_FORWARDED_FOR="1.2.3.0, 10.0.0.8")
    assert (
        owner.post(reverse("login"), {"username": "ana", "password": PASSWORD}).status_code == 302
    )


@pytest.mark.django_db
def test_sign_up_does_not_reveal_registered_emails() -> None:
    make_user("taken")  # taken@example.com
    existing = _sign_up("newcomer", "taken@example.com")
    fresh = _sign_up("stranger", "fresh@example.com", "10.1.1.2")
    assert existing.status_code == fresh.status_code == 200
    assert existing.redirect_chain == fresh.redirect_chain
    assert [str(m) for m in existing.context["messages"]] == [
        str(m) for m in fresh.context["messages"]
    ]
    assert [message.to for message in mail.outbox] == [["taken@example.com"]]
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="newcomer").email == ""


@pytest.mark.django_db
def test_sign_up_is_throttled_per_address(settings) -> None:
    settings.SIGNUP_LIMIT_PER_IP = 2
    assert _sign_up("one", "one@example.com").status_code == 200
    assert _sign_up("two", "two@example.com").status_code == 200
    third = _sign_up("three", "three@example.com")
    assert third.status_code == 429 and "Too many attempts" in third.content.decode()
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="three").exists()


@pytest.mark.django_db
def test_password_reset_is_throttled(settings) -> None:
    settings.PASSWORD_RESET_LIMIT_PER_IP = 2
    settings.PASSWORD_RESET_LIMIT_PER_EMAIL = 1
    make_user("ana")
    url = reverse("password_reset")
    first = Client(REMOTE_ADDR="10.2.2.2").post(url, {"email": "ana@example.com"})
    again = Client(REMOTE_ADDR="10.2.2.3").post(url, {"email": "ana@example.com"})
    assert first.status_code == again.status_code == 302  # the same page either way...
    assert len(mail.outbox) == 1  # ...but one mail an hour to one address
    Client(REMOTE_ADDR="10.2.2.2").post(url, {"email": "x@example.com"})
    refused = Client(REMOTE_ADDR="10.2.2.2").post(url, {"email": "y@example.com"})
    assert refused.status_code == 429
