"""One answer, for the generate page and the API alike: what would this submit cost, and
may this member submit it now (docs/pricing.md).

`offer` checks the parts that decide the price with the catalog's rules (the same
`check_input` the form and the command line use), prices every video the submit would
make (variants), and says — in the ledger's own words — whether the team's state, its
quota and the member's budget let it through. The reservation (`ledger.reserve`) checks
all of it again under the team's lock: this answer is what the person sees first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from generations.jimeng import catalog
from generations.jimeng.catalog import RatioSource
from generations.jimeng.payload import GenerationInput, Problem, check_input
from generations.models import Team
from generations.services import ledger
from generations.services import variants as takes
from generations.services.jobs import quote

# The fields that decide a price; the rest of a form (prompt, images) is checked on submit.
PRICED_FIELDS = frozenset({"duration", "resolution", "aspect_ratio", "generate_audio", "draft"})


def priced_input(
    mode: catalog.Mode,
    *,
    seconds: int,
    resolution: str | None = None,
    aspect_ratio: str | None = None,
    audio: bool = False,
    draft: bool = False,
) -> GenerationInput:
    """The parts of a request that decide its price, as the generate form sends them for
    `mode` (the form builds its request on this, so the two cannot differ): a ratio only
    where the user picks one, a resolution where the mode has them, sound and drafts on
    Ark only."""
    return GenerationInput(
        seconds=seconds,
        aspect_ratio=None if mode.ratio_source == RatioSource.IMAGE else (aspect_ratio or None),
        resolution=(resolution or None) if mode.takes_resolution else None,
        generate_audio=audio and mode.is_ark,
        draft=draft and mode.is_ark,
    )


class PriceProblems(ValueError):
    """The asked-for parts break the mode's rules (or there is no such mode)."""

    def __init__(self, problems: list[Problem], mode: catalog.Mode | None) -> None:
        super().__init__(", ".join(problem.code for problem in problems))
        self.problems = problems
        self.mode = mode


@dataclass(frozen=True)
class Offer:
    videos: int
    cost_cny: Decimal  # all the videos together
    seconds: int
    unit: catalog.Estimate  # the first video: its price and tokens
    left_cny: Decimal | None  # what the team has left this month (None: no limit)
    left_seconds: int | None
    budget_cny: Decimal | None  # the member's own monthly budget, when they have one
    budget_left_cny: Decimal | None
    resets_at: datetime
    blocked: str  # why the member may not submit it now; "" when they may

    @property
    def fits(self) -> bool:
        return not self.blocked

    def document(self) -> dict[str, Any]:
        """The generate page's estimate and the API's are this one document."""
        price = self.unit.price

        def text(value: object) -> str | None:
            return None if value is None else str(value)

        return {
            "videos": self.videos,
            "cost_cny": str(self.cost_cny),
            "seconds": self.seconds,
            "price_cny_per_second": str(price.cny_per_second),
            "price_cny_per_million_tokens": text(price.cny_per_million_tokens),
            "tokens": self.unit.tokens,
            "is_estimate": price.is_estimate,
            "left_cny": text(self.left_cny),
            "left_seconds": self.left_seconds,
            "budget_cny": text(self.budget_cny),
            "budget_left_cny": text(self.budget_left_cny),
            "resets_at": self.resets_at.isoformat(),
            "fits": self.fits,
            "blocked": self.blocked or None,
        }


def offer(
    *,
    team: Team,
    user_id: int | None,
    mode_name: str,
    seconds: int,
    resolution: str | None = None,
    aspect_ratio: str | None = None,
    audio: bool = False,
    draft: bool = False,
    variants: int = 1,
    vary: str = takes.Vary.SEED,
) -> Offer:
    """Price the submit; raise PriceProblems when its priced parts cannot be sent."""
    mode = catalog.MODES.get(mode_name)
    if mode is None:
        raise PriceProblems([Problem("mode", "mode_choice", {"value": mode_name})], None)
    request = priced_input(
        mode,
        seconds=seconds,
        resolution=resolution,
        aspect_ratio=aspect_ratio,
        audio=audio,
        draft=draft,
    )
    problems = [p for p in check_input(mode, request) if p.field in PRICED_FIELDS]
    if problems:
        raise PriceProblems(problems, mode)
    if not 1 <= variants <= takes.MAX_VARIANTS:
        raise PriceProblems([Problem("variants", "variants_range")], mode)
    try:
        asked = takes.expand(mode, request, variants, vary)
    except takes.VariantsRefused as refusal:
        why = {"why": str(refusal)}
        raise PriceProblems([Problem("variants", "variants_refused", why)], mode) from None
    estimates = [quote(mode, each) for each in asked]
    cost = sum((each.cost_cny for each in estimates), Decimal("0.00"))
    seconds = sum(each.seconds for each in estimates)
    usage = team.usage()
    budget, budget_left = ledger.budget_left(team, user_id)
    return Offer(
        videos=len(estimates),
        cost_cny=cost,
        seconds=seconds,
        unit=estimates[0],
        left_cny=None if usage.left_cny is None else max(usage.left_cny, Decimal("0.00")),
        left_seconds=None if usage.left_seconds is None else max(usage.left_seconds, 0),
        budget_cny=budget,
        budget_left_cny=budget_left,
        resets_at=usage.resets_at,
        blocked=_blocked(team, usage, cost, seconds, budget, budget_left),
    )


def _blocked(
    team: Team,
    usage: ledger.Usage,
    cost: Decimal,
    seconds: int,
    budget: Decimal | None,
    budget_left: Decimal | None,
) -> str:
    """The refusal the reservation would give, in its words."""
    if team.is_suspended or not usage.allows(cost, seconds):
        return str(ledger.QuotaExceeded(usage, cost, seconds, team))
    if budget is not None and budget_left is not None and cost > budget_left:
        return str(ledger.BudgetExceeded(budget, budget - budget_left, cost))
    return ""
