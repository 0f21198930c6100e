"""The operators' admin: staff only, usage in lists, masked keys, read-only ledger,
editable prices, and the top-up and suspend actions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from generations.models import EntryKind, LedgerEntry, Price
from tests.cast import add_credential, make_user
from tests.paths import ROOT
from tests.pipeline import make_job

AK, SK = "AKLTadminPageAccessKey42", "admin-page-secret-value-9876"


@pytest.fixture
def operator(db) -> Client:
    client = Client()
    client.force_login(make_user("operator", is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_only_staff_reach_the_admin(cast) -> None:
    for role in ("owner", "outsider"):
        response = cast.client(role).get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Client().get("/admin/generations/team/").status_code == 302


def test_team_list_shows_quota_and_usage(cast, operator) -> None:
    LedgerEntry.objects.create(
        team=cast.team,
        kind=EntryKind.TOPUP,
        amount_cny=Decimal("5.00"),
        period=cast.team.usage().period,
        reason="r",
    )
    page = operator.get(reverse("admin:generations_team_changelist")).content.decode()
    assert "Team A" in page and "105.00 ¥" in page  # 100 quota + 5 top-up left


def test_credentials_are_masked_in_the_admin(cast, operator) -> None:
    credential = add_credential(cast.team, access_key=AK, secret=SK)
    pages = [
        operator.get(reverse("admin:generations_team_change", args=[cast.team.pk])),
        operator.get(reverse("admin:generations_credential_changelist")),
        operator.get(reverse("admin:generations_credential_change", args=[credential.pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert SK not in html and AK not in html
        assert SK[-4:] in html


def test_credential_secret_can_be_replaced_write_only(cast, operator) -> None:
    credential = add_credential(cast.team, access_key=AK, secret=SK)
    url = reverse("admin:generations_credential_change", args=[credential.pk])
    operator.post(
        url,
        {
            "team": cast.team.pk,
            "kind": "volcengine",
            "label": "Main key",
            "endpoint": "https://visual.volcengineapi.com",
            "max_qps": "",
            "access_key": "AKLTreplaced",
            "secret": "replaced-secret",
        },
    )
    credential.refresh_from_db()
    assert credential.access_key == "AKLTreplaced"


def test_ledger_is_read_only(cast, operator) -> None:
    entry = LedgerEntry.objects.create(
        team=cast.team,
        kind=EntryKind.TOPUP,
        amount_cny=Decimal("1.00"),
        period=cast.team.usage().period,
        reason="r",
    )
    assert operator.get(reverse("admin:generations_ledgerentry_changelist")).status_code == 200
    assert operator.get(reverse("admin:generations_ledgerentry_add")).status_code == 403
    operator.post(
        reverse("admin:generations_ledgerentry_change", args=[entry.pk]), {"reason": "edited"}
    )
    entry.refresh_from_db()
    assert entry.reason == "r"
    assert (
        operator.post(
            reverse("admin:generations_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


def test_prices_are_seeded_and_editable(operator) -> None:
    price = Price.objects.get(key="jimeng_t2v_v30")
    assert price.cny_per_second == Decimal("0.600") and not price.is_estimate
    assert Price.objects.get(key="jimeng_i2v_first_v30").is_estimate
    operator.post(
        reverse("admin:generations_price_change", args=[price.pk]),
        {"key": "jimeng_t2v_v30", "cny_per_second": "0.700", "is_estimate": ""},
    )
    price.refresh_from_db()
    assert price.cny_per_second == Decimal("0.700")
    assert Price.objects.table()["jimeng_t2v_v30"].cny_per_second == Decimal("0.700")


def test_topup_action_writes_the_ledger(cast, operator) -> None:
    url = reverse("admin:generations_team_changelist")
    form = operator.post(url, {"action": "grant_topup", "_selected_action": [cast.team.pk]})
    assert form.status_code == 200 and b"Reason" in form.content
    operator.post(
        url,
        {
            "action": "grant_topup",
            "_selected_action": [cast.team.pk],
            "apply": "1",
            "amount_cny": "12.50",
            "seconds": "30",
            "reason": "conference demo",
        },
    )
    entry = LedgerEntry.objects.get(kind=EntryKind.TOPUP)
    assert (entry.amount_cny, entry.seconds, entry.reason) == (
        Decimal("12.50"),
        30,
        "conference demo",
    )
    assert cast.team.usage().left_cny == Decimal("112.50")


def test_topup_without_reason_is_refused(cast, operator) -> None:
    response = operator.post(
        reverse("admin:generations_team_changelist"),
        {
            "action": "grant_topup",
            "_selected_action": [cast.team.pk],
            "apply": "1",
            "amount_cny": "5",
            "seconds": "0",
            "reason": "",
        },
    )
    assert response.status_code == 200 and not LedgerEntry.objects.exists()


def test_suspend_and_lift(cast, operator) -> None:
    url = reverse("admin:generations_team_changelist")
    operator.post(
        url,
        {"action": "suspend", "_selected_action": [cast.team.pk], "apply": "1", "reason": "abuse"},
    )
    cast.team.refresh_from_db()
    assert cast.team.is_suspended and cast.team.suspended_reason == "abuse"
    operator.post(url, {"action": "unsuspend", "_selected_action": [cast.team.pk]})
    cast.team.refresh_from_db()
    assert not cast.team.is_suspended


def test_check_deploy_is_clean_with_production_settings(tmp_path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
        "DEBUG": "false",
        "SECRET_KEY": "x7#k2m9p!q4r8s1t6u3v0w5y-z2a7b4c9d1e6f3g8h0i5j2k7l4m9n6o1p8q3r0s",
        "CREDENTIALS_KEYS": "eXLtq9k1oDHNbYpbQPx3bg9JkQmlv2M5Zx1s1lM8b0A=",
        "ALLOWED_HOSTS": "studio.example.com",
        "DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_rerun_the_sweeper_from_the_admin(cast, operator) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from generations.models import Generation, Status

    add_credential(cast.team)
    job = make_job(cast.team)
    Generation.objects.filter(pk=job.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    response = operator.post(
        reverse("admin:generations_generation_changelist"),
        {"action": "run_sweeper", "_selected_action": [job.pk]},
        follow=True,
    )
    assert (
        "Sweeper ran" in response.content.decode()
        and "&#x27;abandoned&#x27;: 1" in response.content.decode()
    )
    job.refresh_from_db()
    assert (job.status, job.failure_code) == (Status.FAILED, "deadline")


def test_requeue_and_cancel_actions(cast, operator) -> None:
    from generations.models import Generation, Status

    add_credential(cast.team)
    job = make_job(cast.team)
    url = reverse("admin:generations_generation_changelist")
    operator.post(url, {"action": "cancel_queued", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    stuck = make_job(cast.team)
    Generation.objects.filter(pk=stuck.pk).update(
        status=Status.SUBMITTED, upstream_task_id="1", next_action_at=None
    )
    operator.post(url, {"action": "requeue", "_selected_action": [stuck.pk]})
    stuck.refresh_from_db()
    assert stuck.next_action_at is not None


def test_a_dispatch_slice_longer_than_the_task_timeout_is_refused(tmp_path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
        "DATA_DIR": str(tmp_path),
        "Q_TIMEOUT": "30",
        "Q_RETRY": "40",
        "JIMENG_SUBMIT_TIMEOUT": "10",
        "DISPATCH_SLICE_SECONDS": "20",
    }
    run = [sys.executable, str(ROOT / "manage.py"), "check"]
    refused = subprocess.run(run, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode != 0
    assert "DISPATCH_SLICE_SECONDS + JIMENG_SUBMIT_TIMEOUT + 10 s must not exceed" in (
        refused.stderr
    )
    accepted = subprocess.run(
        run,
        env={**env, "DISPATCH_SLICE_SECONDS": "10"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert accepted.returncode == 0, accepted.stderr


def test_admin_action_pages_say_their_title_once(keyed) -> None:
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    page = operator.post(
        reverse("admin:generations_team_changelist"),
        {"action": "grant_topup", "_selected_action": [keyed.team.pk]},
    ).content.decode()
    body = page.split("<body", 1)[1]
    assert re.findall(r"<h1>([^<]*)</h1>", body) == ["Grant a top-up"]
