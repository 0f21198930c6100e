"""Per-member monthly budgets under the team's quota: set by admins, enforced in the
same locked reservation as the quota (so concurrent submits cannot get past them),
and each member's spend on the team page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from generations.models import EntryKind, Generation, LedgerEntry, Membership, Team
from generations.services import ledger, pipeline
from tests.cast import add_credential, post_generate
from tests.pipeline import make_job, mark_ready
from tests.race import at_once


def _budget(cast, role: str, amount: str | None) -> None:  # type: ignore[no-untyped-def]
    Membership.objects.filter(team=cast.team, user=cast.users[role]).update(
        monthly_budget_cny=None if amount is None else Decimal(amount)
    )


@pytest.mark.django_db
def test_admins_set_budgets_and_the_team_page_shows_each_members_spend(keyed) -> None:
    member = Membership.objects.get(team=keyed.team, user=keyed.member)
    url = reverse("member-budget", args=["team-a", member.pk])
    assert keyed.client("member").post(url, {"monthly_budget_cny": "100"}).status_code == 403
    admin = keyed.client("admin")
    admin.post(url, {"monthly_budget_cny": "9.50"})
    member.refresh_from_db()
    assert member.monthly_budget_cny == Decimal("9.50")
    bad = admin.post(url, {"monthly_budget_cny": "-3"}, follow=True).content.decode()
    assert "greater than or equal to 0" in bad
    member.refresh_from_db()
    assert member.monthly_budget_cny == Decimal("9.50")  # the refusal changed nothing

    mark_ready(make_job(keyed.team, user=keyed.member))  # 3.00 spent
    make_job(keyed.team, user=keyed.member)  # 3.00 held
    make_job(keyed.team, user=keyed.admin)
    page = admin.get(reverse("team-detail", args=["team-a"])).content.decode()
    spend = page.split('data-testid="spend-member">', 1)[1].split("</span>", 1)[0]
    assert spend.startswith("6.00 ¥") and "/ 9.50 ¥" in spend
    assert 'data-testid="spend-admin">3.00 ¥' in page
    admin.post(url, {"monthly_budget_cny": ""})
    member.refresh_from_db()
    assert member.monthly_budget_cny is None


@pytest.mark.django_db
def test_a_budget_refuses_what_would_pass_it_and_frees_what_fails(keyed) -> None:
    _budget(keyed, "member", "7.00")
    client = keyed.client("member")
    assert post_generate(client).status_code == 302  # 3.00
    assert post_generate(client).status_code == 302  # 6.00
    refused = post_generate(client)
    page = refused.content.decode()
    assert refused.status_code == 400
    assert "Not enough of your monthly budget" in page and "6.00 of your 7.00 CNY" in page
    assert Generation.objects.filter(created_by=keyed.member).count() == 2
    assert post_generate(keyed.client("admin")).status_code == 302  # others: the team's quota
    # A failed job releases its hold: the member has room again.
    pipeline.fail(Generation.objects.filter(created_by=keyed.member).first(), "x", "")
    assert post_generate(client).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_of_one_member_cannot_pass_the_budget(cast) -> None:
    """Twelve simultaneous 3 CNY reservations by one member with a 9 CNY budget: three."""
    add_credential(cast.team)
    _budget(cast, "member", "9.00")
    jobs = [
        Generation.objects.create(
            team=cast.team,
            created_by=cast.member,
            mode="t2v_720p",
            req_key="jimeng_t2v_v30",
            prompt="x",
            seconds=5,
            price_cny_per_second=Decimal("0.6"),
            cost_cny=Decimal("3.00"),
            deadline_at=timezone.now() + timezone.timedelta(hours=1),
        )
        for _ in range(12)
    ]

    def attempt(job: Generation) -> str:
        try:
            with transaction.atomic():
                ledger.reserve(team=Team.objects.get(pk=cast.team.pk), generation=job, user=None)
        except ledger.BudgetExceeded:
            return "refused"
        return "reserved"

    outcomes = at_once(attempt, jobs)
    assert outcomes.count("reserved") == 3 and outcomes.count("refused") == 9
    held = LedgerEntry.objects.filter(team=cast.team, kind=EntryKind.RESERVE)
    assert sum(entry.amount_cny for entry in held) == Decimal("9.00")
    spend = ledger.member_spend(cast.team, held.first().period)[cast.member.pk]
    assert (spend.spent_cny, spend.held_cny) == (Decimal("0.00"), Decimal("9.00"))
