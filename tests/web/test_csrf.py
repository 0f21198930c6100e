"""Every form that changes something needs its CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.web.routes import ALL, url_of

pytestmark = pytest.mark.security

# Called by machines, not browsers: no cookie is involved, so no CSRF token either. Each
# is authenticated by an unguessable per-job URL (tests/services/pipeline/test_ark.py).
MACHINE_ENDPOINTS = {"ark-callback"}


BROWSER_ROUTES = [(n, r) for n, r, _ in ALL if n not in MACHINE_ENDPOINTS]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), BROWSER_ROUTES, ids=[n for n, _ in BROWSER_ROUTES])
def test_every_post_needs_a_csrf_token(routed, name: str, route: str) -> None:
    cast, objects = routed
    for who in ("owner", "anonymous"):
        client = Client(enforce_csrf_checks=True)
        if who == "owner":
            client.force_login(cast.owner)
        response = client.post(url_of(route, objects), {"anything": "1"})
        assert response.status_code == 403, f"{who} POST {name} → {response.status_code}"
        assert b"Form expired" in response.content  # the CSRF refusal, not a role check
