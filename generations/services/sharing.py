"""Share links: publish finished videos of the team under an unguessable link."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from generations.documents import share_document
from generations.errors import Refused
from generations.models import Generation, ShareItem, ShareLink, Status, Team, WebhookEvent
from generations.services import webhooks


def create_share(
    *, team: Team, user: Any, generation_ids: list[int], title: str, expires_at: datetime | None
) -> ShareLink:
    generations = list(
        Generation.objects.for_team(team).filter(pk__in=generation_ids, status=Status.READY)
    )
    if not generations:
        raise Refused(_("Choose at least one finished video to share."))
    order = {pk: index for index, pk in enumerate(generation_ids)}
    generations.sort(key=lambda g: order.get(g.pk, 0))
    with transaction.atomic():
        link = ShareLink.new(
            team=team, created_by=user, title=title.strip()[:120], expires_at=expires_at
        )
        link.save()
        ShareItem.objects.bulk_create(
            ShareItem(link=link, generation=generation, position=index)
            for index, generation in enumerate(generations)
        )
        webhooks.emit(team, WebhookEvent.SHARE_CREATED, lambda: share_document(link))
    return link
