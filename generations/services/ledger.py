"""The spend ledger: reserve a job's cost, then settle or release it, once; top-ups.

Depends on the models alone. The rules are in docs/pricing.md: a reservation is taken
in the transaction that creates the job, under a lock on the team, so concurrent
submissions can never overspend; each job ends with exactly one settlement or release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from generations.errors import Refused
from generations.models import (
    EntryKind,
    Generation,
    LedgerEntry,
    Membership,
    Team,
    Usage,
    month_start,
)

CENT = Decimal("0.01")


class QuotaExceeded(Refused):
    def __init__(self, usage: Usage, cost: Decimal, seconds: int, team: Team) -> None:
        self.usage = usage
        if team.is_suspended:
            message = (
                _("This team is suspended: %(reason)s") % {"reason": team.suspended_reason}
                if team.suspended_reason
                else _("This team is suspended and cannot start new videos.")
            )
        else:
            left = []
            if usage.left_cny is not None:
                left.append(_("%(amount)s CNY") % {"amount": max(usage.left_cny, Decimal("0.00"))})
            if usage.left_seconds is not None:
                left.append(
                    _("%(seconds)s video seconds") % {"seconds": max(usage.left_seconds, 0)}
                )
            message = _(
                "Not enough quota: this video needs %(cost)s CNY (%(seconds)s s) and the team has "
                "%(left)s left this month. The quota resets on %(reset)s."
            ) % {
                "cost": cost,
                "seconds": seconds,
                "left": _(" and ").join(left),
                "reset": timezone.localtime(usage.resets_at).strftime("%Y-%m-%d %H:%M"),
            }
        super().__init__(message)


class BudgetExceeded(Refused):
    def __init__(self, budget: Decimal, used: Decimal, cost: Decimal) -> None:
        super().__init__(
            _(
                "Not enough of your monthly budget in this team: this video needs %(cost)s CNY; "
                "%(used)s of your %(budget)s CNY are spent or held by running jobs. "
                "Ask an admin to raise your budget."
            )
            % {"cost": cost, "used": used, "budget": budget}
        )


@dataclass(frozen=True)
class MemberSpend:
    """What one member's jobs took from the team's month."""

    spent_cny: Decimal = Decimal("0.00")
    held_cny: Decimal = Decimal("0.00")  # reserved by their running jobs

    @property
    def used_cny(self) -> Decimal:
        return self.spent_cny + self.held_cny


def member_spend(team: Team, period: date) -> dict[int, MemberSpend]:
    """Each member's spend this month, by user id, from the same ledger as the team's
    (a job counts for whoever started it)."""
    zero = Decimal("0")

    def total(kind: str, field: Any = "amount_cny") -> Coalesce:
        return Coalesce(Sum(field, filter=Q(kind=kind)), zero)

    rows = (
        LedgerEntry.objects.filter(team=team, period=period, generation__created_by__isnull=False)
        .values("generation__created_by")
        .annotate(
            settled=total(EntryKind.SETTLE),
            reserved=total(EntryKind.RESERVE),
            released=total(EntryKind.RELEASE),
            closed=total(EntryKind.SETTLE, Coalesce("reserved_cny", "amount_cny")),
        )
    )
    return {
        row["generation__created_by"]: MemberSpend(
            spent_cny=Decimal(row["settled"]).quantize(CENT),
            held_cny=Decimal(row["reserved"] - row["closed"] - row["released"]).quantize(CENT),
        )
        for row in rows
    }


def budget_left(team: Team, user_id: int | None) -> tuple[Decimal | None, Decimal | None]:
    """(the member's monthly budget, what is left of it), or (None, None) without one."""
    if user_id is None:
        return None, None
    budget = (
        Membership.objects.filter(team=team, user_id=user_id)
        .values_list("monthly_budget_cny", flat=True)
        .first()
    )
    if budget is None:
        return None, None
    used = member_spend(team, month_start()).get(user_id, MemberSpend()).used_cny
    return budget, max(budget - used, Decimal("0.00"))


def _check_budget(team: Team, generation: Generation, period: date) -> None:
    """A member with a budget may not go past it; the team's lock is held by the caller,
    so two of their submissions cannot both see the same room."""
    if generation.created_by_id is None:
        return
    budget = (
        Membership.objects.filter(team=team, user_id=generation.created_by_id)
        .values_list("monthly_budget_cny", flat=True)
        .first()
    )
    if budget is None:
        return
    used = member_spend(team, period).get(generation.created_by_id, MemberSpend()).used_cny
    if used + generation.cost_cny > budget:
        raise BudgetExceeded(budget, used, generation.cost_cny)


def reserve(*, team: Team, generation: Generation, user: Any) -> LedgerEntry:
    """Hold the generation's cost against the team's month, or raise QuotaExceeded.

    The team row is locked for the rest of the caller's transaction (PostgreSQL); on
    SQLite the transaction began with BEGIN IMMEDIATE, so writers are serialised.
    Either way two reservations can never both see the same room.

    The lock is FOR NO KEY UPDATE: it excludes other reservations but not the key-share
    lock PostgreSQL takes on the team when another transaction commits a row that
    points at it (a job's end writes a ledger entry and a notification). FOR UPDATE
    would block those commits, and a job ending while holding its gallery total, which
    this transaction updates next, deadlocked with it (docs/architecture.md, Locks).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve() must run inside a transaction")
    locked = Team.objects.select_for_update(no_key=True).get(pk=team.pk)
    period = month_start()
    usage = locked.usage(period)
    if locked.is_suspended or not usage.allows(generation.cost_cny, generation.seconds):
        raise QuotaExceeded(usage, generation.cost_cny, generation.seconds, locked)
    _check_budget(locked, generation, period)
    return LedgerEntry.objects.create(
        team=locked,
        generation=generation,
        kind=EntryKind.RESERVE,
        amount_cny=generation.cost_cny,
        seconds=generation.seconds,
        period=period,
        created_by=user,
    )


@dataclass(frozen=True)
class Actual:
    """What a job really cost, when the upstream said (Ark's tokens, an "auto" length)."""

    cny: Decimal
    seconds: int


def _close_reservation(
    generation: Generation, kind: str, reason: str = "", actual: Actual | None = None
) -> LedgerEntry | None:
    """Settle or release a generation's reservation, once. A second call does nothing.

    A settlement at a different amount records the reservation it closes beside what
    was charged, so the month's reserved sum stays right (docs/pricing.md).
    """
    reservation = LedgerEntry.objects.filter(generation=generation, kind=EntryKind.RESERVE).first()
    if reservation is None:
        return None
    differs = actual is not None and (
        actual.cny != reservation.amount_cny or actual.seconds != reservation.seconds
    )
    try:
        with transaction.atomic():
            return LedgerEntry.objects.create(
                team_id=generation.team_id,
                generation=generation,
                kind=kind,
                amount_cny=actual.cny if actual else reservation.amount_cny,
                seconds=actual.seconds if actual else reservation.seconds,
                reserved_cny=reservation.amount_cny if differs else None,
                reserved_seconds=reservation.seconds if differs else None,
                period=reservation.period,
                reason=reason[:200],
            )
    except IntegrityError:
        return None  # already settled or released


def settle(generation: Generation, actual: Actual | None = None) -> LedgerEntry | None:
    """Charge the job: what was reserved, or `actual` when the upstream billed otherwise."""
    return _close_reservation(generation, EntryKind.SETTLE, actual=actual)


def release(generation: Generation, reason: str = "") -> LedgerEntry | None:
    return _close_reservation(generation, EntryKind.RELEASE, reason)


def grant_topup(
    *, team: Team, amount_cny: Decimal, seconds: int, reason: str, user: Any
) -> LedgerEntry:
    if not reason.strip():
        raise Refused(_("A top-up needs a reason."))
    return LedgerEntry.objects.create(
        team=team,
        kind=EntryKind.TOPUP,
        amount_cny=amount_cny,
        seconds=seconds,
        period=month_start(),
        created_by=user,
        reason=reason.strip()[:200],
    )
