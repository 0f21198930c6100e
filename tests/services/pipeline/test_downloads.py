"""Downloading a finished video under the address rules: never from an internal address,
not even by a redirect; a few redirects are followed, each checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from generations.jimeng import transport
from generations.models import (
    Generation,
    Status,
)
from generations.services import pipeline
from sandbox import render
from tests.local_http import local_server
from tests.pipeline import make_job

pytestmark = pytest.mark.security


def _downloading(team, video_url: str) -> Generation:  # type: ignore[no-untyped-def]
    job = make_job(team)
    Generation.objects.filter(pk=job.pk).update(status=Status.DOWNLOADING, video_url=video_url)
    return job


def _mp4(tmp_path: Path) -> bytes:
    path = tmp_path / "clip.mp4"
    render.render(path, width=320, height=240, frames=25, prompt="clip", images=[])
    return path.read_bytes()


@pytest.mark.django_db
def test_a_video_link_on_an_internal_address_is_not_fetched(keyed) -> None:
    with local_server() as internal:
        job = _downloading(keyed.team, f"{internal.url}/video.mp4")
        pipeline.archive(job.pk)
    job.refresh_from_db()
    assert internal.hits == []
    assert job.status == Status.FAILED and job.failure_code == "address_refused"
    assert "private or internal address" in job.failure_reason


@pytest.mark.django_db
def test_a_video_link_redirecting_inside_is_not_followed(keyed, settings) -> None:
    with local_server() as internal:
        to_inside = {"Location": f"{internal.url}/video.mp4"}
        with local_server(lambda path: (302, to_inside, b"")) as redirector:
            settings.SANDBOX_URL = f"{redirector.url}/sandbox/"
            job = _downloading(keyed.team, f"{redirector.url}/sandbox/files/a.mp4")
            pipeline.archive(job.pk)
    job.refresh_from_db()
    assert len(redirector.hits) == 1 and internal.hits == []
    assert job.status == Status.FAILED and job.failure_code == "address_refused"


@pytest.mark.django_db
@pytest.mark.parametrize(("hops", "status"), [(3, Status.READY), (4, Status.FAILED)])
def test_a_video_link_may_redirect_a_few_times(keyed, settings, tmp_path, hops, status) -> None:
    video = _mp4(tmp_path)

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        step = int(path.rsplit("/", 1)[-1])
        if step < hops:
            return 302, {"Location": f"/sandbox/hop/{step + 1}"}, b""
        return 200, {"Content-Type": "video/mp4"}, video

    with local_server(answer) as host:
        settings.SANDBOX_URL = f"{host.url}/sandbox/"
        job = _downloading(keyed.team, f"{host.url}/sandbox/hop/0")
        pipeline.archive(job.pk)
    job.refresh_from_db()
    assert job.status == status
    assert len(host.hits) == min(hops, transport.MAX_REDIRECTS) + 1
