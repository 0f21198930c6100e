"""Share links: who may make and revoke them, and our own pages for dead ones."""

from __future__ import annotations

import hmac
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generations.models import (
    ShareLink,
)
from tests.pipeline import make_job, mark_ready
from tests.web.helpers import ready_job

pytestmark = pytest.mark.security


@pytest.mark.django_db
def test_viewers_cannot_share_and_members_revoke_only_their_own(keyed) -> None:
    job = mark_ready(make_job(keyed.team))
    create = reverse("share-create", args=["team-a"])
    assert keyed.client("viewer").post(create, {"generations": [job.pk]}).status_code == 403
    assert not ShareLink.objects.exists()
    assert (
        'id="share-form"'
        not in keyed.client("viewer").get(reverse("gallery", args=["team-a"])).content.decode()
    )
    keyed.client("admin").post(create, {"generations": [job.pk]})
    keyed.client("member").post(create, {"generations": [job.pk]})
    admins, members = ShareLink.objects.order_by("pk")

    def revoke(role: str, link: ShareLink) -> int:
        url = reverse("share-revoke", args=["team-a", link.pk])
        return keyed.client(role).post(url).status_code

    assert revoke("member", admins) == 403
    assert revoke("member", members) == 302
    members.revoked_at = None
    members.save(update_fields=["revoked_at"])
    assert revoke("admin", members) == 302
    assert revoke("admin", admins) == 302


@pytest.mark.django_db
def test_dead_share_links_get_our_pages_even_in_debug(keyed, settings) -> None:
    settings.DEBUG = True
    unknown = Client().get("/s/" + "0" * 42 + "/")
    assert unknown.status_code == 404 and b"No such link" in unknown.content
    assert b"technical_404" not in unknown.content and b"URLconf" not in unknown.content
    link = ShareLink.new(team=keyed.team)
    link.save()
    link.revoke()
    gone = Client().get(reverse("public-share", args=[link.key]))
    assert gone.status_code == 410 and b"no longer works" in gone.content


def _share(client: Client, *ids: int, **extra) -> str:
    client.post(
        reverse("share-create", args=["team-a"]), {"generations": [str(i) for i in ids], **extra}
    )
    page = client.get(reverse("share-list", args=["team-a"])).content.decode()
    return re.search(r'value="http://testserver(/s/[^"]+)"', page).group(1)


def test_a_share_link_shows_only_the_shared_items(keyed) -> None:
    shared = ready_job(keyed.team, prompt="Shared <b>kite</b>", user=keyed.member)
    hidden = ready_job(keyed.team, prompt="Secret project", user=keyed.member)
    path = _share(keyed.client("member"), shared.pk)
    page = Client().get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Shared &lt;b&gt;kite&lt;/b&gt;" in html and "Secret project" not in html
    assert "member@example.com" not in html and "member" not in html.lower().split("</head>")[1]
    assert "¥" not in html and "CNY" not in html
    assert 'property="og:video"' in html and 'property="og:image"' in html
    assert Client().get(f"{path}{hidden.pk}/video").status_code == 404
    video = Client().get(f"{path}{shared.pk}/video")
    assert video.status_code == 302
    assert ShareLink.objects.get().view_count == 1


def test_albums_and_view_counts(keyed) -> None:
    jobs = [ready_job(keyed.team, prompt=f"album {n}") for n in range(3)]
    path = _share(keyed.client("member"), *[job.pk for job in jobs], title="Trip")
    html = Client().get(path).content.decode()
    assert html.count('data-testid="shared-item"') == 3 and "Trip" in html
    Client().get(path)
    page = keyed.client("viewer").get(reverse("share-list", args=["team-a"])).content.decode()
    assert 'data-testid="views">2<' in page


def test_revoked_and_expired_links_answer_410(keyed) -> None:
    job = ready_job(keyed.team)
    path = _share(keyed.client("member"), job.pk)
    link = ShareLink.objects.get()
    revoke = reverse("share-revoke", args=["team-a", link.pk])
    assert keyed.client("outsider").post(revoke).status_code == 404
    assert keyed.client("viewer").post(revoke).status_code == 403  # viewers only look
    keyed.client("admin").post(revoke)  # admins revoke any of the team's links

    gone = Client().get(path)
    assert gone.status_code == 410 and b"no longer works" in gone.content
    assert Client().get(f"{path}{job.pk}/poster").status_code == 410
    expiring = _share(keyed.client("member"), job.pk, expires_in_days="1")
    ShareLink.objects.filter(revoked_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert Client().get(expiring).status_code == 410
    unknown = Client().get("/s/" + "0" * 42 + "/")
    assert unknown.status_code == 404 and b"No such link" in unknown.content


def test_share_keys_are_long_and_unguessable(keyed) -> None:
    job = ready_job(keyed.team)
    path = _share(keyed.client("member"), job.pk)
    key = path.split("/")[2]
    assert len(key) >= 10 + 32
    tampered = key[:-1] + ("y" if key.endswith("x") else "x")  # one character off
    assert Client().get(f"/s/{tampered}/").status_code == 404
    assert Client().get(f"/s/{key[:10]}/").status_code == 404


def test_outsiders_cannot_share_another_teams_videos(keyed) -> None:
    job = ready_job(keyed.team)
    keyed.client("outsider").post(
        reverse("share-create", args=["team-b"]), {"generations": [str(job.pk)]}
    )
    assert not ShareLink.objects.exists()


@pytest.mark.django_db
def test_share_keys_carry_at_least_128_random_bits(cast) -> None:
    links = [ShareLink.new(team=cast.team) for _ in range(50)]
    secrets = {link.secret for link in links}
    assert len(secrets) == 50
    # token_urlsafe: 6 bits per character; the public id only finds the row.
    assert all(len(secret) * 6 >= 128 for secret in secrets)


@pytest.mark.django_db
def test_share_key_comparison_is_constant_time(cast) -> None:
    link = ShareLink.new(team=cast.team)
    link.save()
    with mock.patch(
        "generations.models.sharing.hmac.compare_digest", autospec=True, wraps=hmac.compare_digest
    ) as compare:
        assert ShareLink.find(link.key) == link
        assert ShareLink.find(link.public_id + "x" * len(link.secret)) is None
    assert compare.call_count == 2
    assert compare.call_args_list[0].args == (link.secret.encode(), link.secret.encode())


def test_a_single_video_link_is_shown_by_its_video_and_downloads(keyed) -> None:
    """In the list, a link to one video shows its poster and prompt (not a bare id); the
    public page has the prompt as its heading and a Download button (an attachment)."""
    kite = ready_job(keyed.team, prompt="A red kite over the dunes", user=keyed.member)
    boat = ready_job(keyed.team, prompt="boat", user=keyed.member)
    member = keyed.client("member")
    path = _share(member, kite.pk)
    _share(member, kite.pk, boat.pk, title="Album")
    single, album = ShareLink.objects.order_by("pk")
    page = member.get(reverse("share-list", args=["team-a"])).content.decode()
    assert f'data-testid="share-poster-{single.pk}"' in page
    assert f'data-testid="share-poster-{album.pk}"' not in page
    assert ">A red kite over the dunes</a>" in page and ">Album</a>" in page
    assert f">{single.public_id}</a>" not in page

    public = Client().get(path).content.decode()
    assert '<h1 data-testid="share-heading">A red kite over the dunes</h1>' in public
    download = Client().get(f"{path}{kite.pk}/download")
    assert download.status_code == 302
    served = Client().get(download["Location"])
    assert served["Content-Disposition"] == f'attachment; filename="jimeng-{kite.pk}.mp4"'
    assert Client().get(f"{path}{boat.pk}/download").status_code == 404  # not on this link


def test_sharing_from_a_job_shows_the_link_there(keyed) -> None:
    job = ready_job(keyed.team, user=keyed.member)
    member = keyed.client("member")
    page = reverse("job-detail", args=["team-a", job.pk])
    create = reverse("share-create", args=["team-a"])
    answer = member.post(create, {"generations": [job.pk], "next": page})
    assert answer.status_code == 302 and answer["Location"] == page
    html = member.get(page).content.decode()
    link = ShareLink.objects.get()
    assert (
        f'value="http://testserver/s/{link.key}/"' in html
        and 'data-testid="copy-share-url"' in html
    )
    assert 'data-testid="shared"' not in member.get(page).content.decode()  # shown once
    # Elsewhere than this site, `next` is ignored: the list of links, as before.
    away = member.post(create, {"generations": [job.pk], "next": "https://evil.example/"})
    assert away["Location"] == reverse("share-list", args=["team-a"])
