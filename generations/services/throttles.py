"""Throttles for the pages anyone can reach: sign-in, sign-up and password reset.

Attempts are counted in the database (one row per window and subject), so every web
process sees the same counts; a per-process cache would give each gunicorn worker its
own allowance. Subjects are stored hashed (HMAC), not as typed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from generations.models import Throttle


@dataclass(frozen=True)
class Window:
    """At most `limit` events per `seconds` for one subject (an address, an account)."""

    name: str
    limit: int
    seconds: int

    def _key(self, subject: str) -> str:
        bucket = int(time.time() // self.seconds)
        digest = salted_hmac("jimeng.throttle", subject.lower()).hexdigest()[:32]
        return f"{self.name}:{bucket}:{digest}"

    def count(self, subject: str) -> int:
        row = Throttle.objects.filter(key=self._key(subject)).values_list("count", flat=True)
        return row.first() or 0

    def hit(self, subject: str) -> None:
        key = self._key(subject)
        if Throttle.objects.filter(key=key).update(count=F("count") + 1):
            return
        now = timezone.now()
        Throttle.objects.filter(expires_at__lt=now).delete()  # old windows, any subject
        try:
            with transaction.atomic():
                expires = now + timedelta(seconds=self.seconds * 2)
                Throttle.objects.create(key=key, count=1, expires_at=expires)
        except IntegrityError:  # another process created it first
            Throttle.objects.filter(key=key).update(count=F("count") + 1)

    def exceeded(self, subject: str) -> bool:
        return self.count(subject) >= self.limit

    def retry_after(self) -> int:
        return int(self.seconds - time.time() % self.seconds) + 1

    def minutes_left(self) -> int:
        return max(1, self.retry_after() // 60)


HOUR = 3600


def sign_in_windows() -> tuple[Window, Window]:
    """Failures for one account from one address, and for one address altogether. An
    attacker elsewhere cannot lock the account's owner out."""
    seconds = settings.SIGNIN_WINDOW_SECONDS
    return (
        Window("signin-account-ip", settings.SIGNIN_LIMIT_PER_ACCOUNT, seconds),
        Window("signin-ip", settings.SIGNIN_LIMIT_PER_IP, seconds),
    )


def sign_up_window() -> Window:
    return Window("signup-ip", settings.SIGNUP_LIMIT_PER_IP, HOUR)


def password_reset_windows() -> tuple[Window, Window]:
    return (
        Window("reset-ip", settings.PASSWORD_RESET_LIMIT_PER_IP, HOUR),
        Window("reset-email", settings.PASSWORD_RESET_LIMIT_PER_EMAIL, HOUR),
    )


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind proxies, read CLIENT_IP_HEADER from the right: each
    of our CLIENT_IP_PROXIES proxies appended one value, and whatever stands further
    left was sent by the client and proves nothing."""
    header = settings.CLIENT_IP_HEADER
    if header:
        hops = [part.strip() for part in request.META.get(header, "").split(",") if part.strip()]
        if hops:
            return hops[-min(len(hops), settings.CLIENT_IP_PROXIES)]
    return str(request.META.get("REMOTE_ADDR", "unknown"))
