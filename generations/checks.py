"""Deployment checks (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def emulator_in_production(**_: Any) -> list[checks.CheckMessage]:
    """The emulator takes anonymous traffic and its default keys are published."""
    if settings.DEBUG or not settings.SANDBOX_ENABLED:
        return []
    return [
        checks.Warning(
            "The built-in API emulator is on (SANDBOX_ENABLED=true) with DEBUG off.",
            hint="Anyone can submit to /sandbox/ and its keys are public; set "
            "SANDBOX_ENABLED=false unless this is a demo.",
            id="jimeng.W001",
        )
    ]
