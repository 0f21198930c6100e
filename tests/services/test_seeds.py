"""The seed a video was made with is recorded, shown and reused: drawn and sent by the
studio for a random seed where the model takes one, reported by Ark where it picks."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from generations.jimeng.payload import SEED_MAX
from generations.models import Generation, Status
from tests.pipeline import drive, make_job

pytestmark = pytest.mark.django_db


def _seed_field(page: str) -> str:
    found = re.search(r'name="seed" value="(-?\d+)"', page)
    assert found, "no seed field"
    return found.group(1)


def test_a_random_seed_is_drawn_sent_recorded_and_reused(ark, emulator) -> None:
    job = make_job(ark.team, "t2v_720p", seed=-1, user=ark.member)
    assert job.seed == -1 and 0 <= job.seed_used <= SEED_MAX
    (job,) = drive([job.pk])
    assert job.status == Status.READY
    (task,) = emulator.store.tasks()
    assert json.loads(task.body)["seed"] == job.seed_used  # what was sent is what is kept

    client = ark.client("member")
    page = client.get(reverse("job-detail", args=["team-a", job.pk])).content.decode()
    assert f"used {job.seed_used}" in page
    # "Reuse settings" makes the same video: the seed that was sent.
    reuse = client.get(reverse("studio", args=["team-a"]), {"from": job.pk}).content.decode()
    assert _seed_field(reuse) == str(job.seed_used)
    # The form kept after a submit keeps asking for a random one.
    kept = client.get(reverse("studio", args=["team-a"]), {"from": job.pk, "keep": 1})
    assert _seed_field(kept.content.decode()) == "-1"
    gallery = client.get(reverse("gallery", args=["team-a"])).content.decode()
    assert f"seed {job.seed_used}" in gallery


def test_two_random_jobs_get_different_seeds_and_a_chosen_one_is_kept(ark) -> None:
    first, second = (make_job(ark.team, seed=-1) for _ in range(2))
    assert first.seed_used != second.seed_used  # 1 in 4 billion to fail
    chosen = make_job(ark.team, seed=1234)
    assert (chosen.seed, chosen.seed_used) == (1234, 1234)


def test_a_model_that_picks_its_own_seed_reports_it(ark, emulator) -> None:
    job = make_job(ark.team, "seedance_2_0", resolution="480p", seed=-1)
    assert job.seed_used is None
    (job,) = drive([job.pk])
    (task,) = emulator.store.tasks()
    assert "seed" not in json.loads(task.body)
    assert job.status == Status.READY and isinstance(job.seed_used, int) and job.seed_used >= 0
    # Reusing it cannot send a seed the model refuses.
    page = ark.client("member").get(reverse("studio", args=["team-a"]), {"from": job.pk})
    assert _seed_field(page.content.decode()) == "-1"
    assert Generation.objects.get(pk=job.pk).sent_seed == -1
