"""Health checks: cheap, no login, no secrets in the answer."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from generations.access import public_view
from generations.services import health


@public_view
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@public_view
def readyz(request: HttpRequest) -> JsonResponse:
    checks = health.readiness()
    ready = all(check.ok for check in checks)
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {c.name: c.detail for c in checks},
    }
    return JsonResponse(body, status=200 if ready else 503)
