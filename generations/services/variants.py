"""Variants: one submit, several videos (up to four) from one prompt: different seeds,
or the mode's other durations or aspect ratios. Each is an ordinary job; they share
a batch, and the gallery can show them together."""

from __future__ import annotations

import dataclasses

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
