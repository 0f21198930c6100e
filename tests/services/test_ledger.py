"""Quota: reservations, settlement, release, refusals, top-ups, and concurrency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from generations.errors import Refused
from generations.models import EntryKind, Generation, LedgerEntry, Team, month_start
from generations.services import ledger
from tests.race import at_once

pytestmark = pytest.mark.django_db


def _generation(team: Team, cost: str = "3.00", seconds: int = 5) -> Generation:
    return Generation.objects.create(
        team=team,
        mode="t2v_720p",
        req_key="jimeng_t2v_v30",
        prompt="x",
        seconds=seconds,
        price_cny_per_second=Decimal("0.6"),
        cost_cny=Decimal(cost),
        deadline_at=timezone.now() + timezone.timedelta(hours=1),
    )


def _reserve(team: Team, generation: Generation) -> LedgerEntry:
    with transaction.atomic():
        return ledger.reserve(team=team, generation=generation, user=None)


def test_reserve_settle_release_add_up(cast) -> None:
    first, second = _generation(cast.team), _generation(cast.team, "6.00", 10)
    _reserve(cast.team, first)
    _reserve(cast.team, second)
    usage = cast.team.usage()
    assert (usage.reserved_cny, usage.reserved_seconds, usage.spent_cny) == (
        Decimal("9.00"),
        15,
        Decimal("0"),
    )
    assert usage.left_cny == Decimal("91.00")
    ledger.settle(first)
    ledger.release(second, "upstream refused")
    usage = cast.team.usage()
    assert (usage.spent_cny, usage.spent_seconds, usage.reserved_cny) == (
        Decimal("3.00"),
        5,
        Decimal("0.00"),
    )
    assert usage.left_cny == Decimal("97.00")
    kinds = list(LedgerEntry.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["reserve", "reserve", "settle", "release"]


def test_a_job_is_settled_or_released_once(cast) -> None:
    generation = _generation(cast.team)
    _reserve(cast.team, generation)
    assert ledger.settle(generation) is not None
    assert ledger.settle(generation) is None
    assert ledger.release(generation) is None
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            team=cast.team,
            generation=generation,
            kind=EntryKind.RELEASE,
            amount_cny=Decimal("3.00"),
            period=month_start(),
        )
    assert LedgerEntry.objects.filter(generation=generation).count() == 2


def test_refusal_says_what_is_left_and_when_it_resets(cast) -> None:
    cast.team.quota_cny = Decimal("5.00")
    cast.team.save()
    _reserve(cast.team, _generation(cast.team, "3.00"))
    with pytest.raises(ledger.QuotaExceeded) as caught:
        _reserve(cast.team, _generation(cast.team, "3.00"))
    message = str(caught.value)
    assert "2.00 CNY" in message and "3.00 CNY" in message
    assert timezone.localtime(caught.value.usage.resets_at).strftime("%Y-%m-%d") in message
    assert LedgerEntry.objects.count() == 1


def test_seconds_quota(cast) -> None:
    cast.team.quota_cny = None
    cast.team.quota_seconds = 12
    cast.team.save()
    _reserve(cast.team, _generation(cast.team, seconds=10))
    with pytest.raises(ledger.QuotaExceeded, match="2 video seconds"):
        _reserve(cast.team, _generation(cast.team, seconds=5))


def test_empty_quota_means_unlimited(cast) -> None:
    cast.team.quota_cny = None
    cast.team.save()
    for _ in range(5):
        _reserve(cast.team, _generation(cast.team, "1000.00"))
    assert cast.team.usage().left_cny is None


def test_topup_adds_room_for_this_month(cast) -> None:
    cast.team.quota_cny = Decimal("3.00")
    cast.team.save()
    _reserve(cast.team, _generation(cast.team))
    ledger.grant_topup(
        team=cast.team, amount_cny=Decimal("6.00"), seconds=0, reason="launch week", user=None
    )
    _reserve(cast.team, _generation(cast.team))
    assert cast.team.usage().left_cny == Decimal("3.00")
    with pytest.raises(Refused):
        ledger.grant_topup(
            team=cast.team, amount_cny=Decimal("1"), seconds=0, reason=" ", user=None
        )


def test_a_suspended_team_cannot_reserve(cast) -> None:
    cast.team.suspend("unpaid invoice")
    with pytest.raises(ledger.QuotaExceeded, match="suspended"):
        _reserve(cast.team, _generation(cast.team))


@pytest.mark.django_db(transaction=True)
def test_reserve_refuses_to_run_outside_a_transaction(cast) -> None:

    with pytest.raises(RuntimeError):
        ledger.reserve(team=cast.team, generation=_generation(cast.team), user=None)


def test_team_page_shows_spend_reserved_left_and_a_chart(cast) -> None:
    settled, held = _generation(cast.team, "4.00"), _generation(cast.team, "3.00")
    _reserve(cast.team, settled)
    _reserve(cast.team, held)
    ledger.settle(settled)
    page = cast.client("viewer").get(reverse("team-detail", args=["team-a"])).content.decode()
    assert 'data-testid="spent">4.00 ¥' in page
    assert 'data-testid="reserved">3.00 ¥' in page
    assert 'data-testid="left">93.00 ¥' in page
    today = timezone.localdate().strftime("%m-%d")
    assert f"{today}: 4.00 ¥" in page  # the day's bar carries its amount


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_reservations_against_room_for_ten(cast) -> None:
    """Exactly 10 of 50 simultaneous 3 CNY reservations fit in a 30 CNY quota."""
    cast.team.quota_cny = Decimal("30.00")
    cast.team.save()
    generations = [_generation(cast.team) for _ in range(50)]

    def attempt(generation: Generation) -> str:
        try:
            _reserve(cast.team, generation)
        except ledger.QuotaExceeded:
            return "refused"
        return "reserved"

    outcomes = at_once(attempt, generations)
    reserved, refused = outcomes.count("reserved"), outcomes.count("refused")
    print(f"\n{connection.vendor}: {reserved} reserved, {refused} refused")
    assert outcomes.count("reserved") == 10 and outcomes.count("refused") == 40
    entries = LedgerEntry.objects.filter(team=cast.team, kind=EntryKind.RESERVE)
    assert entries.count() == 10
    assert sum(e.amount_cny for e in entries) == Decimal("30.00")
    assert cast.team.usage().left_cny == Decimal("0.00")
