"""A chain joined into one MP4 on a worker: once per ordered set of parts, started again
only when asked (or when its worker died), gone with any of its parts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from generations.errors import Refused
from generations.jimeng.probe import probe
from generations.models import Generation, JoinedVideo, JoinState, Status
from generations.services import housekeeping, joining
from tests.chains import make_chain
from tests.pipeline import make_job
from tests.queue import queued_tasks, run_queued

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_chain_is_joined_once_on_a_worker(keyed, tmp_path) -> None:
    parts = make_chain(keyed.team, {"frames": 48}, {"frames": 24}, {"frames": 24})

    joined = joining.joined_video(parts)
    assert joined.state == JoinState.BUILDING and not joined.file
    assert joined.part_ids() == [part.pk for part in parts]
    run_queued(joining.build)

    joined.refresh_from_db()
    assert joined.state == JoinState.READY and not joined.reencoded
    assert (joined.width, joined.height) == (320, 180)
    assert joined.duration_seconds == pytest.approx(4.0)
    assert joined.file.name.startswith(f"joined/{keyed.team.pk}/")
    assert joined.size_bytes == default_storage.size(joined.file.name) > 0
    copy = tmp_path / "joined.mp4"
    with default_storage.open(joined.file.name, "rb") as stored:
        copy.write_bytes(stored.read())
    assert probe(copy).frames == 96

    # Asked again: the same file, nothing queued.
    assert joining.joined_video(parts).pk == joined.pk
    assert not [task for task in queued_tasks() if task["func"] is joining.build]
    # Another order is another film.
    other = joining.joined_video([parts[1], parts[0]])
    assert other.pk != joined.pk and other.state == JoinState.BUILDING


def test_what_cannot_be_joined_is_refused_with_a_reason(keyed) -> None:
    (one,) = make_chain(keyed.team, {})
    with pytest.raises(Refused, match="two or more"):
        joining.joined_video([one])
    running = make_job(keyed.team)
    with pytest.raises(Refused, match="ready"):
        joining.joined_video([one, running])
    assert not JoinedVideo.objects.exists()


def test_a_failed_join_says_why_and_starts_again_only_when_asked(keyed) -> None:
    parts = make_chain(keyed.team, {}, {})
    default_storage.delete(parts[1].video.name)  # storage lost a part

    joined = joining.joined_video(parts)
    run_queued(joining.build)
    joined.refresh_from_db()
    assert joined.state == JoinState.FAILED and joined.error and not joined.file

    assert joining.joined_video(parts).state == JoinState.FAILED  # a reload does not retry
    assert not [task for task in queued_tasks() if task["func"] is joining.build]
    again = joining.joined_video(parts, again=True)
    assert again.pk == joined.pk and again.state == JoinState.BUILDING and again.error == ""
    assert [t["args"] for t in queued_tasks() if t["func"] is joining.build] == [(joined.pk,)]


def test_a_join_whose_worker_died_is_started_again_by_the_next_request(keyed) -> None:
    parts = make_chain(keyed.team, {}, {})
    joined = joining.joined_video(parts)
    queued_tasks()  # the worker took it and died
    assert joining.joined_video(parts).state == JoinState.BUILDING
    assert not [task for task in queued_tasks() if task["func"] is joining.build]

    JoinedVideo.objects.filter(pk=joined.pk).update(
        started_at=timezone.now() - joining.STALE_AFTER - timedelta(seconds=1)
    )
    joining.joined_video(parts)
    run_queued(joining.build)
    joined.refresh_from_db()
    assert joined.state == JoinState.READY


def test_deleting_a_part_deletes_the_joined_file(keyed) -> None:
    parts = make_chain(keyed.team, {}, {}, {})
    joined = joining.joined_video(parts)
    run_queued(joining.build)
    joined.refresh_from_db()
    name = joined.file.name
    assert default_storage.exists(name)

    housekeeping.delete(Generation.objects.get(pk=parts[1].pk))

    assert not JoinedVideo.objects.filter(pk=joined.pk).exists()
    assert not default_storage.exists(name)


def test_a_join_that_ends_after_its_part_was_deleted_leaves_no_file(keyed) -> None:
    parts = make_chain(keyed.team, {}, {})
    joined = joining.joined_video(parts)
    (task,) = [task for task in queued_tasks() if task["func"] is joining.build]
    housekeeping.delete(Generation.objects.get(pk=parts[0].pk))
    assert parts[0].status == Status.READY  # the row we hold is stale; the build reads anew

    joining.build(*task["args"])

    assert not JoinedVideo.objects.filter(pk=joined.pk).exists()
    folder = f"joined/{keyed.team.pk}"
    assert not default_storage.exists(folder) or default_storage.listdir(folder)[1] == []
