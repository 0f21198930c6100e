"""The spend ledger: reserve a job's cost, then settle or release it, once; top-ups.

Depends on the models alone. The rules are in docs/pricing.md: a reservation is taken
in the transaction that creates the job, under a lock on the team, so concurrent
submissions can never overspend; each job ends with exactly one settlement or release.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from generations.errors import Refused
from generations.models import EntryKind, Generation, LedgerEntry, Team, Usage, month_start


class QuotaExceeded(Refused):
    def __init__(self, usage: Usage, cost: Decimal, seconds: int, team: Team) -> None:
        self.usage = usage
        if team.is_suspended:
            message = _("This team is suspended and cannot start new videos.")
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


def reserve(*, team: Team, generation: Generation, user: Any) -> LedgerEntry:
    """Hold the generation's cost against the team's month, or raise QuotaExceeded.

    The team row is locked for the rest of the caller's transaction (PostgreSQL); on
    SQLite the transaction began with BEGIN IMMEDIATE, so writers are serialised.
    Either way two reservations can never both see the same room.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve() must run inside a transaction")
    locked = Team.objects.select_for_update().get(pk=team.pk)
    period = month_start()
    usage = locked.usage(period)
    if locked.is_suspended or not usage.allows(generation.cost_cny, generation.seconds):
        raise QuotaExceeded(usage, generation.cost_cny, generation.seconds, locked)
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
