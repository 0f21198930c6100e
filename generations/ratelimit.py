"""Counting failures in a time window, in the Django cache (shared when it is Redis)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


@dataclass(frozen=True)
class Window:
    name: str
    limit: int
    seconds: int

    def _key(self, subject: str) -> str:
        bucket = int(time.time() // self.seconds)
        return f"rl:{self.name}:{bucket}:{subject}"

    def count(self, subject: str) -> int:
        return int(cache.get(self._key(subject), 0))

    def hit(self, subject: str) -> int:
        key = self._key(subject)
        cache.add(key, 0, self.seconds * 2)
        try:
            return int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.set(key, 1, self.seconds * 2)
            return 1

    def exceeded(self, subject: str) -> bool:
        return self.count(subject) >= self.limit

    def retry_after(self) -> int:
        return int(self.seconds - time.time() % self.seconds) + 1


def sign_in_windows() -> tuple[Window, Window]:
    return (
        Window("signin-account", settings.SIGNIN_LIMIT_PER_ACCOUNT, settings.SIGNIN_WINDOW_SECONDS),
        Window("signin-ip", settings.SIGNIN_LIMIT_PER_IP, settings.SIGNIN_WINDOW_SECONDS),
    )


def client_ip(request: HttpRequest) -> str:
    header = settings.CLIENT_IP_HEADER
    if header:
        forwarded = request.META.get(header, "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "unknown")
