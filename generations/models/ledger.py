"""The spend ledger: every reservation, settlement, release and top-up, and a team's
month read from it (`Usage`). The rules are in docs/pricing.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.db import models
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0.00")

# --- months -------------------------------------------------------------------------


def month_start(moment: datetime | None = None) -> date:
    local = timezone.localtime(moment or timezone.now())
    return local.date().replace(day=1)


def following_month(first: date) -> date:
    """The first day of the month after the one `first` starts."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def next_month_start(moment: datetime | None = None) -> datetime:
    following = following_month(month_start(moment))
    return timezone.make_aware(datetime.combine(following, datetime.min.time()))


# --- the ledger ---------------------------------------------------------------------


class EntryKind(models.TextChoices):
    RESERVE = "reserve", _("Reserved")
    SETTLE = "settle", _("Settled")
    RELEASE = "release", _("Released")
    TOPUP = "topup", _("Top-up")


class LedgerEntry(models.Model):
    """One step in a team's spend: append-only, never edited.

    Every generation has one reservation and then exactly one settlement or release of
    the same amount; the constraints make a second one impossible, even from two
    workers at once.
    """

    team = models.ForeignKey("Team", on_delete=models.CASCADE, related_name="ledger")
    generation = models.ForeignKey(
        "Generation", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=EntryKind.choices)
    amount_cny = models.DecimalField(_("CNY"), max_digits=12, decimal_places=2)
    seconds = models.IntegerField(_("video seconds"), default=0)
    period = models.DateField(_("month"), help_text=_("First day of the month it counts in."))
    created_at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # On a settlement: the reservation it closes, when the actual amount differs (Ark
    # bills the tokens it used; "auto" lengths reserve the longest).
    reserved_cny = models.DecimalField(
        _("estimated CNY"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    reserved_seconds = models.IntegerField(_("estimated seconds"), null=True, blank=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "period", "kind"])]
        constraints = [
            models.UniqueConstraint(
                fields=["generation"],
                condition=Q(kind="reserve"),
                name="one_reservation_per_generation",
            ),
            models.UniqueConstraint(
                fields=["generation"],
                condition=Q(kind__in=["settle", "release"]),
                name="one_outcome_per_generation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_cny} CNY / {self.seconds} s"


class Quota(Protocol):
    """What a month's usage needs to know of its team."""

    pk: Any
    quota_cny: Decimal | None
    quota_seconds: int | None


@dataclass(frozen=True)
class Usage:
    """A team's month: what it may spend, what is spent, what is held for running jobs."""

    period: date
    quota_cny: Decimal | None
    quota_seconds: int | None
    topup_cny: Decimal
    topup_seconds: int
    spent_cny: Decimal
    spent_seconds: int
    reserved_cny: Decimal
    reserved_seconds: int

    @classmethod
    def of(cls, team: Quota, period: date) -> Usage:
        def total(field: str, kind: str) -> Coalesce:
            zero = Decimal("0") if field == "amount_cny" else 0
            return Coalesce(Sum(field, filter=Q(kind=kind)), zero)

        sums = LedgerEntry.objects.filter(team_id=team.pk, period=period).aggregate(
            **{
                f"{kind}_{short}": total(field, kind)
                for kind in EntryKind.values
                for field, short in (("amount_cny", "cny"), ("seconds", "s"))
            },
            # What settlements took out of the reserved sums (their estimate).
            closed_cny=Coalesce(
                Sum(Coalesce("reserved_cny", "amount_cny"), filter=Q(kind=EntryKind.SETTLE)),
                Decimal("0"),
            ),
            closed_s=Coalesce(
                Sum(Coalesce("reserved_seconds", "seconds"), filter=Q(kind=EntryKind.SETTLE)), 0
            ),
        )

        def cny(value: Decimal) -> Decimal:  # SQLite sums come back without their scale
            return Decimal(value).quantize(ZERO)

        return cls(
            period=period,
            quota_cny=team.quota_cny,
            quota_seconds=team.quota_seconds,
            topup_cny=cny(sums["topup_cny"]),
            topup_seconds=sums["topup_s"],
            spent_cny=cny(sums["settle_cny"]),
            spent_seconds=sums["settle_s"],
            reserved_cny=cny(sums["reserve_cny"] - sums["closed_cny"] - sums["release_cny"]),
            reserved_seconds=sums["reserve_s"] - sums["closed_s"] - sums["release_s"],
        )

    @property
    def left_cny(self) -> Decimal | None:
        if self.quota_cny is None:
            return None
        return self.quota_cny + self.topup_cny - self.spent_cny - self.reserved_cny

    @property
    def left_seconds(self) -> int | None:
        if self.quota_seconds is None:
            return None
        return self.quota_seconds + self.topup_seconds - self.spent_seconds - self.reserved_seconds

    def allows(self, cost_cny: Decimal, seconds: int) -> bool:
        cny_ok = self.left_cny is None or cost_cny <= self.left_cny
        seconds_ok = self.left_seconds is None or seconds <= self.left_seconds
        return cny_ok and seconds_ok

    @property
    def resets_at(self) -> datetime:
        return next_month_start(
            timezone.make_aware(datetime.combine(self.period, datetime.min.time()))
        )
