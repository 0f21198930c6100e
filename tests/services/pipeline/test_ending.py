"""Ending a job (services/pipeline/ending.py): cancelled before it is sent; a refused
reservation leaves nothing behind."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.storage import default_storage

from generations.models import Generation, LedgerEntry, Status
from generations.services import ledger, pipeline
from tests.pipeline import make_job
from tests.services.pipeline.helpers import ledger_kinds


def _all_media() -> list[str]:
    found = []
    for top in ("uploads", "videos", "posters"):
        if not default_storage.exists(top):
            continue
        for directory in default_storage.listdir(top)[0]:
            found += [
                f"{top}/{directory}/{name}"
                for name in default_storage.listdir(f"{top}/{directory}")[1]
            ]
    return found


def test_cancel_only_before_submission(studio) -> None:
    first, second = make_job(studio.team), make_job(studio.team)
    assert pipeline.cancel(first)
    pipeline.dispatch_round("d")
    second.refresh_from_db()
    assert not pipeline.cancel(second)
    first.refresh_from_db()
    assert first.status == Status.CANCELLED and ledger_kinds(first) == ["reserve", "release"]


def test_refused_reservation_leaves_nothing_behind(studio) -> None:
    studio.team.quota_cny = Decimal("1.00")
    studio.team.save()
    before = set(_all_media())
    with pytest.raises(ledger.QuotaExceeded):
        make_job(studio.team, "i2v_first_720p")
    assert not Generation.objects.exists() and not LedgerEntry.objects.exists()
    assert set(_all_media()) == before
