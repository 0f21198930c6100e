"""Variants: one submit, several videos (up to four) from one prompt: different seeds,
or the mode's other durations or aspect ratios. Each is an ordinary job; they share
a batch, and the gallery can show them together."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from generations.jimeng import catalog
from generations.jimeng.payload import SEED_MAX, GenerationInput

MAX_VARIANTS = 4


class Vary(TextChoices):
    SEED = "seed", _("Different seeds")
    DURATION = "duration", _("Different durations")
    RATIO = "ratio", _("Different aspect ratios")


class VariantsRefused(ValueError):
    """The mode cannot make that many different videos that way; the message says why."""


def expand(
    mode: catalog.Mode, request: GenerationInput, count: int, vary: str
) -> list[GenerationInput]:
    """The requests of `count` variants of `request`, the first being `request` itself."""
    if count <= 1:
        return [request]
    if vary == Vary.DURATION:
        durations = [request.seconds, *(d for d in mode.durations if d != request.seconds)]
        if len(durations) < count:
            raise VariantsRefused(
                _("This mode offers %(n)s durations; make at most %(n)s videos by duration.")
                % {"n": len(durations)}
            )
        return [dataclasses.replace(request, seconds=d) for d in durations[:count]]
    if vary == Vary.RATIO:
        if mode.ratio_source != catalog.RatioSource.FIELD or request.aspect_ratio is None:
            raise VariantsRefused(_("This mode takes its aspect ratio from the image."))
        chosen = request.aspect_ratio
        ratios = [chosen, *(r for r in mode.aspect_ratios if r != chosen)]
        if len(ratios) < count:
            raise VariantsRefused(_("This mode offers %(n)s aspect ratios.") % {"n": len(ratios)})
        return [dataclasses.replace(request, aspect_ratio=r) for r in ratios[:count]]
    # Seeds: random ones stay random (each job draws its own); a chosen one counts up.
    if request.seed == -1:
        return [request] * count
    return [
        dataclasses.replace(request, seed=(request.seed + n) % (SEED_MAX + 1)) for n in range(count)
    ]


@dataclasses.dataclass
class Group:
    """Jobs shown together: the takes of one submit, or one job alone. `kept` is the take
    the member kept (their one favourite among them), `others` the rest."""

    batch: str
    jobs: list[Any]

    @property
    def kept(self) -> Any:
        favourites = [job for job in self.jobs if getattr(job, "is_favourite", None)]
        return favourites[0] if len(self.jobs) > 1 and len(favourites) == 1 else None

    @property
    def lead(self) -> Any:
        """The take shown large: the one kept, else the newest."""
        return self.kept or self.jobs[0]

    @property
    def others(self) -> list[Any]:
        lead = self.lead
        return [job for job in self.jobs if job is not lead]


def grouped(jobs: Iterable[Any]) -> list[Group]:
    """`jobs` in their order, the takes of one submit together where they follow each
    other (they are made in one transaction, so a page lists them side by side unless
    it ends between them)."""
    groups: list[Group] = []
    for job in jobs:
        if job.batch and groups and groups[-1].batch == job.batch:
            groups[-1].jobs.append(job)
        else:
            groups.append(Group(job.batch, [job]))
    return groups


def keep(generation: Any, user: Any) -> None:
    """Keep one take: it becomes the member's favourite, and the other takes of its
    submit stop being theirs (so the take kept is the one shown; the others fold away)."""
    from generations.models import Generation

    with transaction.atomic():
        if generation.batch:
            siblings = Generation.objects.filter(team_id=generation.team_id, batch=generation.batch)
            user.favourite_generations.remove(*siblings.exclude(pk=generation.pk))
        generation.favourite_of.add(user)
