"""The team's API page: tokens made and shown once, whose tokens one sees and revokes;
webhooks for admins, with the secret shown once, a test event and deletion."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from django.db import connection

from generations.models import ApiToken, Webhook, WebhookDelivery
from tests.api_client import Api

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"jst_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}")


def _make_token(client, name: str = "nightly", days: str = "30") -> str:  # type: ignore[no-untyped-def]
    answer = client.post("/t/team-a/api/", {"name": name, "expires_in_days": days}, follow=True)
    assert answer.redirect_chain == [("/t/team-a/api/", 302)]  # a reload makes no other
    assert "no-store" in answer["Cache-Control"]
    found = TOKEN.findall(answer.content.decode())
    assert found, "the new token is shown"
    return found[0]


def test_a_token_is_shown_once_and_works(cast) -> None:
    client = cast.client("viewer")
    plain = _make_token(client)
    assert Api(plain).get("/api/v1/me").json()["user"] == "viewer"
    again = client.get("/t/team-a/api/").content.decode()
    assert plain not in again and "nightly" in again
    token = ApiToken.objects.get()
    assert token.expires_at is not None and 29 <= (token.expires_at - token.created_at).days <= 30
    # Nowhere stored in clear: not in the token table, not in the session (where it
    # waited, encrypted, for the page after the redirect).
    secret = plain.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM generations_apitoken")
        assert secret not in repr(cursor.fetchall())
    for session in Session.objects.all():
        assert secret not in repr(session.get_decoded())


def test_a_token_needs_a_name(cast) -> None:
    answer = cast.client("member").post("/t/team-a/api/", {"name": "  ", "expires_in_days": "0"})
    assert 'data-field="name"' in answer.content.decode()
    assert not ApiToken.objects.exists()


def test_members_see_and_revoke_their_own_tokens_admins_everyones(cast) -> None:
    member, other_member = cast.client("member"), cast.client("viewer")
    _make_token(member, "member's")
    _make_token(other_member, "viewer's")
    mine = ApiToken.objects.get(name="member's")
    theirs = ApiToken.objects.get(name="viewer's")

    page = member.get("/t/team-a/api/").content.decode()
    assert "member&#x27;s" in page and "viewer&#x27;s" not in page
    assert member.post(f"/t/team-a/api/tokens/{theirs.pk}/revoke").status_code == 403
    assert member.post(f"/t/team-a/api/tokens/{mine.pk}/revoke").status_code == 302
    assert ApiToken.objects.get(pk=mine.pk).state == "revoked"

    admin = cast.client("admin")
    page = admin.get("/t/team-a/api/").content.decode()
    assert "viewer&#x27;s" in page and f'data-testid="token-{theirs.pk}"' in page
    assert admin.post(f"/t/team-a/api/tokens/{theirs.pk}/revoke").status_code == 302
    assert ApiToken.objects.get(pk=theirs.pk).state == "revoked"
    # Another team's token is not this team's to see or revoke.
    outsider = ApiToken.issue(team=cast.other_team, user=cast.outsider, name="b")[0]
    assert admin.post(f"/t/team-a/api/tokens/{outsider.pk}/revoke").status_code == 404
    assert ApiToken.objects.get(pk=outsider.pk).state == "active"


def test_webhooks_are_for_admins_with_the_secret_shown_once(cast) -> None:
    assert cast.client("member").get("/t/team-a/api/webhooks/").status_code == 403
    admin = cast.client("admin")
    answer = admin.post(
        "/t/team-a/api/webhooks/",
        {"url": "https://hooks.example.com/jimeng", "events": ["job.ready", "share.created"]},
        follow=True,
    )
    page = answer.content.decode()
    secret = re.search(r"whsec_[A-Za-z0-9_-]+", page).group(0)  # type: ignore[union-attr]
    hook = Webhook.objects.get()
    assert hook.secret == secret and hook.events == ["job.ready", "share.created"]
    assert secret not in admin.get("/t/team-a/api/webhooks/").content.decode()

    assert admin.post(f"/t/team-a/api/webhooks/{hook.pk}/ping").status_code == 302
    assert WebhookDelivery.objects.get().event == "ping"
    assert admin.post(f"/t/team-a/api/webhooks/{hook.pk}/delete").status_code == 302
    assert not Webhook.objects.exists() and not WebhookDelivery.objects.exists()


def test_webhooks_need_an_event(cast) -> None:
    answer = cast.client("admin").post(
        "/t/team-a/api/webhooks/", {"url": "https://hooks.example.com/"}
    )
    assert 'data-field="events"' in answer.content.decode()
    assert not Webhook.objects.exists()


def test_the_api_page_speaks_chinese(cast) -> None:
    client = cast.client("member", HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = client.get("/t/team-a/api/").content.decode()
    assert "访问令牌" in page
