"""Gallery housekeeping: favourites (each member's own), tags (the team's), and deleting
a finished video (admins): its files go, its row stays hidden so the ledger keeps
what it cost."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from generations import media
from generations.errors import Refused
from generations.models import TERMINAL, Generation, ShareItem, Tag
from generations.services import gallery_totals, joining
from generations.services.queue import once_committed

MAX_TAGS = 10
TAG_LENGTH = 40


def toggle_favourite(generation: Generation, user: Any) -> bool:
    """Favourite it for this member, or stop; whether it is a favourite now."""
    if generation.favourite_of.filter(pk=user.pk).exists():
        generation.favourite_of.remove(user)
        return False
    generation.favourite_of.add(user)
    return True


def parse_tags(text: str) -> list[str]:
    """Tags as typed: separated by commas (either width) or new lines, trimmed, each
    once, in the order given."""
    names: list[str] = []
    for part in re.split(r"[,，\n]", text):
        name = " ".join(part.split())
        if name and name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise Refused(_("At most %(n)s tags per video.") % {"n": MAX_TAGS})
    if any(len(name) > TAG_LENGTH for name in names):
        raise Refused(_("A tag is at most %(n)s characters.") % {"n": TAG_LENGTH})
    return names


def set_tags(generation: Generation, text: str) -> list[str]:
    """Give the video exactly these tags (made for the team when new)."""
    names = parse_tags(text)
    with transaction.atomic():
        tags = [Tag.objects.get_or_create(team_id=generation.team_id, name=n)[0] for n in names]
        generation.tags.set(tags)
    return names


def delete(generation: Generation) -> None:
    """Remove a finished video from the gallery: files deleted, share links no longer
    show it, the ledger untouched."""
    if generation.status not in TERMINAL:
        raise Refused(_("Only a finished job can be deleted; cancel it first."))
    with transaction.atomic():
        locked = Generation.objects.select_for_update().get(pk=generation.pk)
        if locked.deleted_at is not None:
            return
        locked.deleted_at = timezone.now()
        locked.save(update_fields=["deleted_at"])
        ShareItem.objects.filter(generation=locked).delete()
        joining.forget_with(locked)
        gallery_totals.record_deleted(locked)
        names = [locked.video.name, locked.poster.name, locked.last_frame.name]
        for image in locked.images.all():
            names += [image.original.name, image.fitted.name]
    once_committed(lambda: media.delete_files(*names))
