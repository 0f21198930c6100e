"""Ark jobs through the real pipeline against the emulator over real HTTP: tokens billed,
last frames and chains, callbacks instead of polling, lost answers found before any
resend, cancelling upstream, drafts and finals, sound, retired models."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from generations.models import (
    EntryKind,
    Generation,
    LedgerEntry,
    Status,
)
from generations.services import callbacks, pipeline
from generations.services.jobs import available_modes
from tests.pipeline import drive, make_job


def _entries(job: Generation) -> dict[str, LedgerEntry]:
    return {entry.kind: entry for entry in LedgerEntry.objects.filter(generation=job)}


def test_an_ark_job_is_charged_the_tokens_it_used(ark, emulator) -> None:
    job = make_job(ark.team, "seedance_2_0", resolution="720p", aspect_ratio="16:9")
    assert job.tokens_estimated == 108_900 and job.cost_cny == Decimal("5.01")
    (job,) = drive([job.pk])
    assert job.status == Status.READY and job.tokens_used == 108_900
    assert (job.video_width, job.video_height) == (1280, 720)
    entries = _entries(job)
    assert entries[EntryKind.SETTLE].amount_cny == Decimal("5.01")
    assert entries[EntryKind.SETTLE].reserved_cny is None  # as estimated
    usage = ark.team.usage()
    assert (usage.spent_cny, usage.reserved_cny) == (Decimal("5.01"), Decimal("0.00"))
    sent = json.loads(emulator.store.tasks()[0].body)
    assert (
        sent["safety_identifier"] == job.upstream_identifier and len(job.upstream_identifier) == 32
    )


def test_an_auto_length_reserves_the_longest_and_settles_what_was_made(ark) -> None:
    job = make_job(ark.team, "seedance_2_0_fast", resolution="480p", seconds=-1)
    longest = 864 * 496 * (24 * 15 + 1) // 1024
    assert job.tokens_estimated == longest and job.seconds == 15 and job.auto_length
    reserved = job.cost_cny
    (job,) = drive([job.pk])
    made = 864 * 496 * 121 // 1024  # the emulator's model picks five seconds
    assert job.tokens_used == made and job.seconds == 5
    settled = _entries(job)[EntryKind.SETTLE]
    assert (
        settled.amount_cny == job.cost_cny == (Decimal(37) * made / 10**6).quantize(Decimal("0.01"))
    )
    assert (settled.reserved_cny, settled.reserved_seconds, settled.seconds) == (reserved, 15, 5)
    usage = ark.team.usage()
    assert usage.reserved_cny == Decimal("0.00") and usage.reserved_seconds == 0
    assert usage.spent_cny == job.cost_cny and usage.spent_seconds == 5
    assert job.estimated_cny == reserved != job.cost_cny


def test_the_last_frame_is_kept_and_extend_starts_the_next_part_from_it(ark) -> None:
    job = make_job(ark.team, "seedance_2_0", resolution="720p", aspect_ratio="9:16")
    (job,) = drive([job.pk])
    with default_storage.open(job.last_frame.name, "rb") as handle:
        frame = Image.open(io.BytesIO(handle.read()))
    assert frame.size == (720, 1280) and frame.format == "PNG"  # Ark's own last frame
    member = ark.client("member")
    page = member.get(reverse("studio", args=["team-a"]), {"extend": job.pk})
    assert page.context["form"]["extend_from"].value() == job.pk
    assert b'data-testid="extending"' in page.content
    response = member.post(
        reverse("studio", args=["team-a"]),
        {"mode": "seedance_2_0", "prompt": "and then", "duration": "4", "resolution": "480p",
         "seed": "-1", "extend_from": job.pk},
    )  # fmt: skip
    assert response.status_code == 302
    part = Generation.objects.exclude(pk=job.pk).get()
    assert part.extends == job and part.images.get().aspect_ratio == "9:16"
    (part,) = drive([part.pk])
    chain = member.get(reverse("job-chain", args=["team-a", part.pk]))
    assert [p.pk for p in chain.context["parts"]] == [job.pk, part.pk]


def test_the_studio_cuts_the_last_frame_of_other_videos_when_first_extended(ark) -> None:
    (job,) = drive([make_job(ark.team, "t2v_720p").pk])
    assert not job.last_frame and job.can_extend  # not cut for every job: most never extend
    member = ark.client("member")
    page = member.get(reverse("studio", args=["team-a"]), {"extend": job.pk})
    assert page.context["form"]["mode"].value() == "i2v_first_720p"  # takes a first frame
    extend = {"mode": "i2v_first_720p", "prompt": "and then", "duration": "5", "seed": "-1",
              "extend_from": job.pk}  # fmt: skip
    assert member.post(reverse("studio", args=["team-a"]), extend).status_code == 302
    job.refresh_from_db()
    with default_storage.open(job.last_frame.name, "rb") as handle:
        last = Image.open(io.BytesIO(handle.read()))
        assert last.size == (1280, 720) and last.format == "PNG"
    part = Generation.objects.get(extends=job)
    with default_storage.open(part.images.get().fitted.name, "rb") as handle:
        assert Image.open(io.BytesIO(handle.read())).size == (1280, 720)


def test_callbacks_make_polling_unneeded(ark, emulator, settings) -> None:
    settings.PUBLIC_BASE_URL = emulator.base_url
    settings.CALLBACK_GRACE_SECONDS = 60
    job = make_job(ark.team, "seedance_2_0", resolution="480p")
    (job,) = drive([job.pk], timeout=20)
    assert job.status == Status.READY and job.polls == 1  # the GET that confirmed the end
    assert len(emulator.store.calls("query")) == 1
    delivered = [row["status"] for row in emulator.store.callbacks() if row["delivered_at"]]
    assert delivered == ["queued", "running", "final"]
    sent = json.loads(emulator.store.tasks()[0].body)
    assert sent["callback_url"].startswith(f"{emulator.base_url}/hooks/ark/")


def test_a_callback_is_never_believed(ark, emulator, settings, client) -> None:
    settings.PUBLIC_BASE_URL = emulator.base_url
    settings.SANDBOX_GENERATION_SECONDS = 30.0  # no end, and so no final callback, for now
    settings.CALLBACK_GRACE_SECONDS = 600
    job = make_job(ark.team, "seedance_2_0", resolution="480p")
    pipeline.dispatch_round("test")
    job.refresh_from_db()
    token = json.loads(emulator.store.tasks()[0].body)["callback_url"].rsplit("/", 2)[1]
    assert callbacks.token_hash(token) == job.callback_token_hash
    assert client.post(reverse("ark-callback", args=["x" * 32])).status_code == 404
    forged = json.dumps({"id": job.upstream_task_id, "status": "succeeded"})
    answer = client.post(
        reverse("ark-callback", args=[token]), forged, content_type="application/json"
    )
    assert answer.status_code == 204
    pipeline.dispatch_round("test")  # the forged end made the job due: one GET decides
    job.refresh_from_db()
    assert job.status == Status.SUBMITTED and job.polls == 1 and job.upstream_status == "in_queue"


def test_a_lost_create_answer_is_found_instead_of_resent(ark, emulator, settings) -> None:
    settings.SANDBOX_SLOW_SECONDS = 0.6  # the task is made after the answer was given up on
    settings.JIMENG_SUBMIT_TIMEOUT = 0.3
    settings.SUBMIT_CHECK_SECONDS = 1.0  # looked for at 0.1 s, 1.1 s, 2.1 s
    job = make_job(ark.team, "seedance_2_0", "slow answer [sandbox:submit-faults=slow]")
    (job,) = drive([job.pk], timeout=30)
    assert job.status == Status.READY and job.attempts == 1
    assert len(emulator.store.tasks()) == 1 and len(emulator.store.calls("submit")) == 1


def test_a_create_that_made_nothing_is_sent_again_after_the_checks(ark, emulator) -> None:
    job = make_job(ark.team, "seedance_2_0", "dropped [sandbox:submit-faults=drop]")
    (job,) = drive([job.pk], timeout=30)
    assert job.status == Status.READY and job.attempts == 2
    assert len(emulator.store.tasks()) == 1  # the drop made none; the resend made one
    assert len(emulator.store.calls("submit")) == 2


def test_a_worker_that_died_while_creating_leaves_a_job_to_check(ark) -> None:
    job = make_job(ark.team, "seedance_2_0")
    Generation.objects.filter(pk=job.pk).update(
        status=Status.SUBMITTING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert pipeline.recover()["unknown_submits"] == 1
    job.refresh_from_db()
    assert job.status == Status.CHECKING  # to be looked for, never resent blindly


def test_cancel_a_task_still_queued_upstream(ark, emulator, settings) -> None:
    settings.SANDBOX_GENERATION_SECONDS = 20.0
    job = make_job(ark.team, "seedance_2_0")
    pipeline.dispatch_round("test")
    job.refresh_from_db()
    assert job.status == Status.SUBMITTED and job.can_cancel
    answer = ark.client("member").post(reverse("job-cancel", args=["team-a", job.pk]))
    assert answer.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert _entries(job)[EntryKind.RELEASE].amount_cny == job.cost_cny
    assert emulator.ark().get_result(task_id=job.upstream_task_id).failure_code == "cancelled"


def test_a_draft_and_its_final(ark, emulator) -> None:
    draft = make_job(ark.team, "seedance_1_5_pro", "a heron", draft=True, aspect_ratio="16:9")
    assert draft.tokens_estimated == 864 * 496 * 121 // 1024  # 480p, whatever the default
    (draft,) = drive([draft.pk])
    assert (draft.video_width, draft.video_height) == (864, 496) and draft.can_make_final
    member = ark.client("member")
    page = member.get(reverse("job-detail", args=["team-a", draft.pk]))
    assert b'data-testid="make-final"' in page.content
    member.post(reverse("job-final", args=["team-a", draft.pk]))
    final = Generation.objects.get(from_draft=draft)
    (final,) = drive([final.pk])
    assert final.status == Status.READY and (final.video_width, final.video_height) == (1280, 720)
    sent = json.loads(emulator.store.tasks()[-1].body)
    assert sent["resolution"] == "720p" and "draft" not in sent
    assert emulator.store.tasks()[-1].options["draft_task_id"] == draft.upstream_task_id
    assert not final.can_make_final


def test_sound_is_asked_for_probed_and_shown(ark) -> None:
    job = make_job(ark.team, "seedance_1_5_pro", "rain on a roof", generate_audio=True)
    (job,) = drive([job.pk])
    assert job.video_audio_codec == "aac" and job.has_sound
    page = ark.client("viewer").get(reverse("job-detail", args=["team-a", job.pk]))
    assert b'data-testid="sound"' in page.content
    silent = make_job(ark.team, "seedance_1_5_pro", "rain on a roof")
    assert silent.cost_cny == job.cost_cny / 2  # 8 instead of 16 CNY per million tokens


def test_an_operator_retires_a_model_in_the_admin_and_new_jobs_stop(ark) -> None:
    from generations.models import Price

    assert {"seedance_1_0_pro", "seedance_2_0"} <= {m.name for m in available_modes(ark.team)}
    ark.owner.is_staff = ark.owner.is_superuser = True
    ark.owner.save()
    row = Price.objects.get_or_create(
        key="ark:doubao-seedance-1-0-pro-250528", defaults={"cny_per_second": 0}
    )[0]
    answer = ark.client("owner").post(
        "/admin/generations/price/",
        {"action": "retire_today", "_selected_action": [row.pk]},
        follow=True,
    )
    assert "1 model(s) retired today" in answer.content.decode()
    row.refresh_from_db()
    assert row.retires_on == timezone.localdate()
    offered = {mode.name for mode in available_modes(ark.team)}
    assert "seedance_1_0_pro" not in offered and "seedance_2_0" in offered
    assert {
        m.name for m in available_modes(ark.team, timezone.localdate() - timedelta(days=1))
    } >= {"seedance_1_0_pro"}
    refused = ark.client("member").post(
        reverse("studio", args=["team-a"]),
        {"mode": "seedance_1_0_pro", "prompt": "x", "duration": "5", "seed": "-1"},
    )
    assert refused.status_code == 400 and not Generation.objects.exists()


def test_test_connection_lists_ark_tasks(ark) -> None:
    credential = ark.team.credentials.get(kind="ark")
    page = ark.client("admin").post(
        reverse("credential-test", args=["team-a", credential.pk]), follow=True
    )
    assert "Ark listed the tasks" in page.content.decode()
    credential.refresh_from_db()
    assert credential.last_test_ok is True


def test_the_form_offers_ark_options_and_checks_them(ark) -> None:
    member = ark.client("member")
    refused = member.post(
        reverse("studio", args=["team-a"]),
        {"mode": "seedance_2_0", "prompt": "x", "duration": "5", "seed": "42"},
    )
    assert refused.status_code == 400 and "picks its own seed" in refused.content.decode()
    assert not Generation.objects.exists()
    table = member.get(reverse("studio", args=["team-a"])).context["modes"]
    assert table["seedance_1_5_pro"]["audio"] and table["seedance_1_5_pro"]["draft"]
    assert [-1, "Auto (the model picks)"] in table["seedance_2_0"]["durations"]


def test_mode_names_are_translated(ark) -> None:
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(ark.member)
    page = client.get(reverse("studio", args=["team-a"])).content.decode()
    assert "文生视频 · 720P" in page and "Seedance 2.0（方舟）" in page and "方舟 Seedance" in page
    assert "自动（由模型决定）" in page


def test_an_image_ark_would_refuse_is_refused_before_any_request(ark, emulator) -> None:
    """1400×500 (2.8): the Jimeng modes take it (up to 3), Ark only 0.4–2.5."""
    import base64

    from tests import images
    from tests.api_client import Api, token_for

    wide = images.solid(1400, 500)
    answer = ark.client("member").post(
        reverse("studio", args=["team-a"]),
        {"mode": "seedance_2_0", "prompt": "a pier", "duration": "5", "resolution": "480p",
         "seed": "-1", "first_image": io.BytesIO(wide)},
    )  # fmt: skip
    assert answer.status_code == 400
    assert "between 0.4 and 2.5" in answer.content.decode()
    uri = "data:image/jpeg;base64," + base64.b64encode(wide).decode()
    api = Api(token_for(ark, "member")).post(
        "/api/v1/generations",
        {"mode": "seedance_2_0", "prompt": "a pier", "duration": 5, "resolution": "480p",
         "first_image": uri},
    )  # fmt: skip
    assert api.status_code == 400
    assert "between 0.4 and 2.5" in str(api.json()["errors"])
    assert not Generation.objects.exists() and emulator.store.calls() == []
    jimeng = ark.client("member").post(
        reverse("studio", args=["team-a"]),
        {"mode": "i2v_first_720p", "prompt": "a pier", "duration": "5", "seed": "-1",
         "first_image": io.BytesIO(wide)},
    )  # fmt: skip
    assert jimeng.status_code == 302
