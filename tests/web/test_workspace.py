"""The generate page as a workspace (views/studio.py, views/fragments.py): the feed's
cards with their players and actions, and each action answered in place for htmx (the
part of the page that changed, the messages out of band) while the same forms still
work without JavaScript."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generations.models import Generation, PromptTemplate, ShareLink, Status
from generations.services import pipeline
from tests.cast import post_generate
from tests.pipeline import make_job, mark_ready

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _studio(client):  # type: ignore[no-untyped-def]
    return client.get(reverse("studio", args=["team-a"])).content.decode()


def _oob_messages(html: str) -> str:
    found = re.search(r'<ul id="messages"[^>]*hx-swap-oob="true"[^>]*>(.*?)</ul>', html, re.S)
    assert found, html
    return found.group(1)


def test_a_ready_job_plays_in_the_feed_with_its_actions(keyed) -> None:
    job = mark_ready(make_job(keyed.team, user=keyed.member))
    page = _studio(keyed.client("member"))
    card = page[page.index(f'data-job="{job.pk}"') :]
    card = card[: card.index("</article>")]
    # Its poster, loaded lazily; the video only when asked to play.
    assert f'data-testid="feed-play-{job.pk}"' in card and 'loading="lazy"' in card
    assert f'data-play="{reverse("job-media", args=["team-a", job.pk, "video"])}"' in card
    for action in (
        f'data-testid="feed-download-{job.pk}"',
        "data-regenerate",
        f'data-testid="feed-extend-{job.pk}"',
        f'data-testid="feed-share-{job.pk}"',
        f'data-testid="favourite-{job.pk}"',
    ):
        assert action in card, action
    # A viewer watches, and keeps favourites, but has nothing to make or share with.
    viewer = _studio(keyed.client("viewer"))
    assert "data-regenerate" not in viewer and f"feed-share-{job.pk}" not in viewer
    assert f'data-testid="favourite-{job.pk}"' in viewer


def test_a_submit_in_place_answers_with_the_new_cards(keyed) -> None:
    client = keyed.client("member")
    response = post_generate(client, prompt="three kites", variants="3", headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    made = list(Generation.objects.order_by("pk"))
    assert len(made) == 3
    # One row of three takes, newest first as the feed lists them; no page around them.
    assert html.count('data-variants="') == 1
    assert [int(pk) for pk in re.findall(r'data-job="(\d+)"', html)] == [
        job.pk for job in reversed(made)
    ]
    assert "<html" not in html and 'id="generate-form"' not in html
    assert "3 variants queued" in _oob_messages(html)
    assert 'id="no-jobs" hx-swap-oob="delete"' in html
    # The same post without htmx still goes back to the page (no JavaScript needed).
    assert post_generate(client, prompt="one more").status_code == 302


def test_a_refused_submit_in_place_shows_the_form_again_with_its_reasons(keyed) -> None:
    response = post_generate(keyed.client("member"), prompt="", headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#generate-form"
    assert response["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert html.startswith('<form method="post" enctype="multipart/form-data" id="generate-form"')
    assert "errorlist" in html
    assert not Generation.objects.exists()


def test_favourite_in_place_answers_with_the_star(keyed) -> None:
    job = mark_ready(make_job(keyed.team))
    url = reverse("job-favourite", args=["team-a", job.pk])
    response = keyed.client("viewer").post(url, {"look": "star"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith("<form")
    assert 'aria-pressed="true"' in html and job.favourite_of.filter(pk=keyed.viewer.pk).exists()
    again = keyed.client("viewer").post(url, {"look": "button"}, headers=HTMX).content.decode()
    assert 'aria-pressed="false"' in again and "button secondary" in again


def test_keep_one_take_folds_the_others_away(keyed) -> None:
    client = keyed.client("member")
    post_generate(client, prompt="three boats", variants="3")
    takes = list(Generation.objects.order_by("pk"))
    for take in takes:
        mark_ready(take)
    takes[2].favourite_of.add(keyed.member)  # an earlier choice, replaced by keeping another
    response = client.post(reverse("job-keep", args=["team-a", takes[1].pk]), headers=HTMX)
    html = response.content.decode()
    assert list(keyed.member.favourite_generations.all()) == [takes[1]]
    assert f'data-testid="kept-{takes[1].pk}"' in html
    folded = html[html.index("data-other-takes") :]
    assert f'data-job="{takes[0].pk}"' in folded and f'data-job="{takes[2].pk}"' in folded
    # Everyone keeps their own: another member's favourites are untouched.
    assert not keyed.owner.favourite_generations.exists()
    page = _studio(client)
    assert page.count(f'data-testid="kept-{takes[1].pk}"') == 1


def test_share_from_a_card_shows_the_link_in_place(keyed) -> None:
    job = mark_ready(make_job(keyed.team))
    response = keyed.client("member").post(
        reverse("share-create", args=["team-a"]), {"generations": str(job.pk)}, headers=HTMX
    )
    html = response.content.decode()
    link = ShareLink.objects.get()
    assert reverse("public-share", args=[link.key]) in html
    assert f'id="share-url-{job.pk}"' in html and f'data-copy="#share-url-{job.pk}"' in html
    # Nothing to share: the refusal comes as a message, and nothing on the page moves.
    refused = keyed.client("member").post(
        reverse("share-create", args=["team-a"]), {}, headers=HTMX
    )
    assert refused["HX-Reswap"] == "none"
    assert "Choose at least one video" in _oob_messages(refused.content.decode())


def test_save_as_template_in_place_answers_with_the_teams_list(keyed) -> None:
    client = keyed.client("member")
    url = reverse("prompt-template-create", args=["team-a"])
    data = {"template_name": "Lanterns", "prompt": "lanterns over water", "mode": "t2v_720p"}
    html = client.post(url, data, headers=HTMX).content.decode()
    assert PromptTemplate.objects.filter(name="Lanterns").exists()
    assert 'id="prompt-templates"' in html and ">Lanterns</option>" in html
    assert "Saved the template" in _oob_messages(html)
    refused = client.post(url, {**data, "template_name": ""}, headers=HTMX)
    assert refused["HX-Reswap"] == "none"
    assert PromptTemplate.objects.count() == 1


def test_cancel_regenerate_and_retry_in_place(keyed) -> None:
    client = keyed.client("member")
    job = make_job(keyed.team, user=keyed.member)
    card = client.post(
        reverse("job-cancel", args=["team-a", job.pk]), {"in_feed": "1"}, headers=HTMX
    ).content.decode()
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert f'data-job="{job.pk}"' in card and 'data-terminal="1"' in card
    assert "cancelled; its reservation was released" in _oob_messages(card)

    retried = client.post(
        reverse("job-retry", args=["team-a", job.pk]), headers=HTMX
    ).content.decode()
    again = Generation.objects.get(retry_of=job)
    assert f'data-job="{again.pk}"' in retried and "same inputs" in _oob_messages(retried)

    ready = mark_ready(make_job(keyed.team))
    answer = client.post(reverse("job-regenerate", args=["team-a", ready.pk]), headers=HTMX)
    take = Generation.objects.order_by("-pk").first()
    assert take is not None and take.pk != ready.pk
    assert f'data-job="{take.pk}"' in answer.content.decode()
    # Retrying what may not be retried: a message, and nothing swapped.
    refused = client.post(reverse("job-retry", args=["team-a", ready.pk]), headers=HTMX)
    assert refused["HX-Reswap"] == "none"


def test_an_ended_jobs_card_comes_back_whole_for_the_feed(keyed) -> None:
    job = make_job(keyed.team)
    url = reverse("job-card", args=["team-a", job.pk])
    running = keyed.client("viewer").get(url).content.decode()
    assert "data-steps" in running and "feed-play" not in running
    pipeline.cancel(job)
    ready = mark_ready(make_job(keyed.team))
    html = keyed.client("viewer").get(reverse("job-card", args=["team-a", ready.pk])).content
    assert f'data-testid="feed-play-{ready.pk}"'.encode() in html


def test_tags_saved_in_place_come_back_as_the_team_reads_them(keyed) -> None:
    job = mark_ready(make_job(keyed.team))
    url = reverse("job-tags", args=["team-a", job.pk])
    html = keyed.client("member").post(url, {"tags": "春节， client-a,春节"}, headers=HTMX)
    text = html.content.decode()
    assert text.lstrip().startswith("<form") and 'value="client-a, 春节"' in text
    assert "Tags saved." in _oob_messages(text)
    refused = keyed.client("member").post(url, {"tags": "x" * 600}, headers=HTMX)
    assert refused["HX-Reswap"] == "none"
    assert sorted(job.tags.values_list("name", flat=True)) == ["client-a", "春节"]
