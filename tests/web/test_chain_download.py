"""A chain downloaded as one MP4 from the chain's page, a job's page, the gallery and a
share link: a page that waits while a worker joins, then the file as an attachment."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from generations.jimeng.probe import probe
from generations.models import JoinedVideo
from generations.services import joining
from generations.services.sharing import create_share
from tests.chains import make_chain
from tests.pipeline import make_job
from tests.queue import run_queued

pytestmark = pytest.mark.django_db(transaction=True)


def _download(client: Client, url: str, tmp_path) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    """Follow the redirect to the signed file; the attachment's name and the probed file."""
    answer = client.get(url)
    assert answer.status_code == 302, answer.status_code
    media = client.get(answer["Location"])
    assert media.status_code == 200
    path = tmp_path / "download.mp4"
    path.write_bytes(b"".join(media.streaming_content))
    return media["Content-Disposition"], probe(path)


def test_a_member_downloads_a_chain_as_one_mp4(keyed, tmp_path) -> None:
    parts = make_chain(keyed.team, {"frames": 48}, {"frames": 24, "sound": False})
    viewer = keyed.client("viewer")  # downloading costs nothing: every member may
    url = reverse("job-chain-mp4", args=["team-a", parts[1].pk])
    for page in ("job-detail", "job-chain"):
        html = viewer.get(reverse(page, args=["team-a", parts[1].pk])).content.decode()
        assert f'href="{url}"' in html
    gallery = viewer.get(reverse("gallery", args=["team-a"])).content.decode()
    assert f'data-testid="chain-mp4-{parts[0].pk}"' in gallery

    waiting = viewer.get(url)
    assert waiting.status_code == 202 and waiting["Cache-Control"] == "no-store"
    html = waiting.content.decode()
    assert 'data-reload-after="2"' in html and "js/reload.js" in html
    assert "http-equiv" not in html  # no meta refresh (axe: a page that moves on by itself)
    assert "Joining the videos into one file" in html
    run_queued(joining.build)

    disposition, info = _download(viewer, url, tmp_path)
    assert f'filename="jimeng-chain-{parts[0].pk}-{parts[1].pk}.mp4"' in disposition
    assert disposition.startswith("attachment")
    # The parts differ (sound on one only): encoded again, sound throughout.
    assert (info.frames, info.duration_seconds, info.audio_codec) == (72, 3.0, "aac")
    assert JoinedVideo.objects.get().reencoded


def test_a_failed_join_offers_to_try_again(keyed) -> None:
    parts = make_chain(keyed.team, {}, {})
    from django.core.files.storage import default_storage

    default_storage.delete(parts[0].video.name)
    url = reverse("job-chain-mp4", args=["team-a", parts[0].pk])
    member = keyed.client("member")
    member.get(url)
    run_queued(joining.build)
    failed = member.get(url)
    assert failed.status_code == 200 and 'data-state="failed"' in failed.content.decode()
    assert 'href="?again=1"' in failed.content.decode()
    assert "data-reload-after" not in failed.content.decode()
    assert member.get(url, {"again": "1"}).status_code == 202


def test_a_video_that_is_not_part_of_a_chain_has_no_chain_mp4(keyed) -> None:
    (alone,) = make_chain(keyed.team, {})
    assert (
        keyed.client("member").get(reverse("job-chain-mp4", args=["team-a", alone.pk])).status_code
        == 404
    )


@pytest.mark.security
def test_outsiders_cannot_join_another_teams_chain(keyed) -> None:
    parts = make_chain(keyed.team, {}, {})
    url = reverse("job-chain-mp4", args=["team-b", parts[1].pk])
    assert keyed.client("outsider").get(url).status_code == 404
    assert Client().get(reverse("job-chain-mp4", args=["team-a", parts[1].pk])).status_code == 302
    assert not JoinedVideo.objects.exists()


def _share(keyed, *parts) -> str:  # type: ignore[no-untyped-def]
    link = create_share(
        team=keyed.team,
        user=keyed.member,
        generation_ids=[part.pk for part in parts],
        title="",
        expires_at=None,
    )
    return link.key


def test_a_share_with_the_whole_chain_offers_it_as_one_mp4(keyed, tmp_path) -> None:
    parts = make_chain(keyed.team, {}, {}, {})
    key = _share(keyed, *parts)
    page = Client().get(reverse("public-share", args=[key])).content.decode()
    url = reverse("public-chain-mp4", args=[key, parts[0].pk])
    assert f'href="{url}"' in page and "chain of 3 videos" in page
    anyone = Client()
    assert anyone.get(url).status_code == 202
    run_queued(joining.build)
    disposition, info = _download(anyone, url, tmp_path)
    assert disposition.startswith("attachment") and info.frames == 72


@pytest.mark.security
def test_a_share_never_joins_in_a_part_that_is_not_on_it(keyed) -> None:
    """Two parts of a three-part chain are shared: the third must stay private, so there
    is no chain download, and asking for one by URL is a 404 that joins nothing."""
    parts = make_chain(keyed.team, {}, {}, {})
    key = _share(keyed, parts[0], parts[1])
    page = Client().get(reverse("public-share", args=[key])).content.decode()
    assert 'data-testid="chain-mp4"' not in page
    for part in parts:
        url = reverse("public-chain-mp4", args=[key, part.pk])
        assert Client().get(url).status_code == 404
    assert not JoinedVideo.objects.exists()


def test_a_card_asks_for_the_chain_in_place_until_it_can_download(keyed, tmp_path) -> None:
    """From the workspace's feed (htmx): the state in the card, asking again by itself
    while a worker joins, then a download link; the page never leaves."""
    parts = make_chain(keyed.team, {"frames": 24}, {"frames": 24})
    member = keyed.client("member")
    studio = member.get(reverse("studio", args=["team-a"])).content.decode()
    assert f'data-testid="feed-chain-mp4-{parts[1].pk}"' in studio
    url = reverse("job-chain-mp4", args=["team-a", parts[1].pk])
    htmx = {"HX-Request": "true"}
    waiting = member.get(url, headers=htmx)
    html = waiting.content.decode()
    assert waiting.status_code == 200 and waiting["Cache-Control"] == "no-store"
    assert 'data-state="building"' in html and f'hx-get="{url}"' in html
    assert 'hx-trigger="load delay:2s"' in html and "<html" not in html
    run_queued(joining.build)
    ready = member.get(url, headers=htmx).content.decode()
    assert 'data-state="ready"' in ready and "hx-trigger" not in ready
    assert f'href="{url}" download' in ready and "(2 parts)" in ready
    disposition, info = _download(member, url, tmp_path)
    assert disposition.startswith("attachment") and info.frames == 48  # type: ignore[attr-defined]


def test_extend_shows_the_frame_it_starts_from(keyed) -> None:
    (part,) = make_chain(keyed.team, {"frames": 24})
    member = keyed.client("member")
    page = member.get(reverse("studio", args=["team-a"]), {"extend": part.pk}).content.decode()
    frame_url = reverse("job-media", args=["team-a", part.pk, "last-frame"])
    assert f'src="{frame_url}"' in page and 'data-testid="extending-frame"' in page
    answer = member.get(frame_url)
    assert answer.status_code == 302
    image = member.get(answer["Location"])
    assert (
        image.status_code == 200 and b"".join(image.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    )
    # A job with no video has no last frame to show.
    queued = make_job(keyed.team)
    assert (
        member.get(reverse("job-media", args=["team-a", queued.pk, "last-frame"])).status_code
        == 404
    )
