"""Helpers for API tests: tokens for the cast, and a client that sends them."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from generations.models import ApiToken, Team
from tests.cast import Cast


def token_for(cast: Cast, role: str, *, team: Team | None = None, name: str = "script") -> str:
    """A fresh personal token of the cast member `role` (the outsider's is for team B)."""
    team = team or (cast.other_team if role == "outsider" else cast.team)
    _token, plain = ApiToken.issue(team=team, user=cast.users[role], name=name)
    return plain


class Api:
    """Django's test client with a bearer token and JSON bodies."""

    def __init__(self, token: str | None, **headers: str) -> None:
        self.client = Client()
        self.headers = dict(headers)
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, url: str, body: Any = None, **headers: str) -> Any:
        options: dict[str, Any] = {"headers": {**self.headers, **headers}}
        if body is not None:
            options["data"] = json.dumps(body)
            options["content_type"] = "application/json"
        return getattr(self.client, method.lower())(url, **options)

    def get(self, url: str, **headers: str) -> Any:
        return self.call("GET", url, **headers)

    def post(self, url: str, body: Any = None, **headers: str) -> Any:
        return self.call("POST", url, body if body is not None else {}, **headers)

    def delete(self, url: str, **headers: str) -> Any:
        return self.call("DELETE", url, **headers)


T2V = {"mode": "t2v_720p", "prompt": "a kite over the lake", "duration": 5, "aspect_ratio": "16:9"}
