"""Every page of the studio and a team's worth of objects to fill their URLs: what the
access matrix, the CSRF check and the header check walk through."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from generations import media
from generations.models import (
    ApiToken,
    Generation,
    Invitation,
    Membership,
    PromptTemplate,
    Role,
    ShareLink,
)
from generations.services import callbacks, webhooks
from tests import images
from tests.cast import add_credential
from tests.pipeline import frame, make_job, mark_ready

# Mounted apps with their own gatekeeping, tested elsewhere: the admin (staff only,
# tests/web/test_admin.py), the emulator (signatures and Bearer keys, tests/emulator/) and
# the APIs (personal access tokens, tests/api/test_access.py).
OTHER_GATEKEEPERS = ("admin:", "sandbox:", "api-1:", "openai:")


def patterns(
    resolvers: list[Any], prefix: str = "", namespace: str = ""
) -> list[tuple[str, str, Any]]:
    found = []
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((namespace + entry.name, prefix + str(entry.pattern), entry.callback))
    return found


ALL = [p for p in patterns(get_resolver().url_patterns) if not p[0].startswith(OTHER_GATEKEEPERS)]
NAMES = [name for name, _, _ in ALL]


@dataclass
class World:
    cast: Any
    objects: dict[str, str]  # URL keyword → a value in team A
    foreign: dict[str, str]  # URL keyword → the same kind of object in team B


def ready_job(team) -> Generation:  # type: ignore[no-untyped-def]
    return mark_ready(
        make_job(team, "i2v_first_720p", frames=[frame(0, images.solid(800, 600))]),
        video=b"\0" * 64,
    )


def team_objects(team) -> dict[str, str]:  # type: ignore[no-untyped-def]
    add_credential(team, default=not team.credentials.filter(is_default=True).exists())
    job = ready_job(team)
    invitation, token = Invitation.issue(team=team, role=Role.MEMBER, created_by=None)
    # Made by the team's member: members may revoke their own links (test_share_links.py
    # covers another member's link).
    maker = Membership.objects.filter(team=team, role=Role.MEMBER).first()
    link = ShareLink.new(team=team, created_by=maker.user if maker else None)
    link.save()
    link.items.create(generation=job)
    # An extension of it, also on the link: the job is part of a chain (its one-MP4 pages).
    extension = mark_ready(make_job(team, "t2v_720p"), video=b"\0" * 64, extends=job)
    link.items.create(generation=extension, position=1)
    # Also the member's: members may remove their own templates (others' are
    # tests/services/test_prompts.py's).
    template = PromptTemplate.objects.create(
        team=team, name="matrix", prompt="p", created_by=maker.user if maker else None
    )
    callback = callbacks.new_token() or "callback-token-for-the-matrix"
    Generation.objects.filter(pk=job.pk).update(callback_token_hash=callbacks.token_hash(callback))
    membership = Membership.objects.filter(team=team).order_by("pk").last()
    hook, _secret = webhooks.add(team=team, url="https://hooks.example.com/", events=[], user=None)
    delivery = webhooks.ping(hook)
    # Each member's own token: whose tokens one may revoke is tests/web/test_api_settings.py's.
    tokens = {
        f"token_id:{m.user.username}": str(
            ApiToken.issue(team=team, user=m.user, name="matrix")[0].pk
        )
        for m in Membership.objects.filter(team=team).select_related("user")
    }
    owner = Membership.objects.filter(team=team, role=Role.OWNER).first()
    return {
        **tokens,
        "token_id": tokens[f"token_id:{owner.user.username}"],
        "webhook_id": str(hook.pk),
        "delivery_id": str(delivery.pk),
        "slug": team.slug,
        "generation_id": str(job.pk),
        "member_id": str(membership.pk),
        "invitation_id": str(invitation.pk),
        "credential_id": str(team.credentials.first().pk),
        "link_id": str(link.pk),
        "template_id": str(template.pk),
        "token": token,
        "key": link.key,
        "kind": "video",
        "uidb64": "MQ",
        "media_token": media.signed_url(job.poster.name).split("/")[2],
        "callback": callback,
    }


def url_of(route: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[-1]
        return values["media_token"] if route.startswith("m/") and name == "token" else values[name]

    return "/" + re.sub(r"<([^>]+)>", fill, route)
