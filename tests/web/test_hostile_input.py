"""The hostile-input corpus through the real form: each item gets a clear error on its
field or a correct fit, none causes a 500, and a refusal leaves no reservation and no
file behind. Prompts are shown escaped everywhere they appear."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from PIL import Image

from generations.jimeng.images import MAX_BYTES, MAX_SIDE, MIN_SHORT_SIDE
from generations.models import Generation, LedgerEntry, ShareLink
from tests.cast import make_user, post_generate
from tests.corpus.make_corpus import IMAGES, PROMPTS, build
from tests.pipeline import make_job, mark_ready, media_files

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("corpus")
    build(directory)
    return directory


@pytest.mark.parametrize("name", list(IMAGES))
def test_hostile_image(keyed, corpus: Path, name: str) -> None:
    item, _ = IMAGES[name]
    upload = io.BytesIO((corpus / name).read_bytes())
    upload.name = name
    before = media_files()
    response = post_generate(
        keyed.client("member"), mode="i2v_first_720p", prompt="", first_image=upload
    )
    assert response.status_code in (302, 400), f"{name} → {response.status_code}"
    if item.outcome == "error":
        assert response.status_code == 400
        errors = " ".join(response.context["form"].errors.get(item.field, []))
        assert item.words in errors, f"{name}: {response.context['form'].errors}"
        assert not Generation.objects.exists() and not LedgerEntry.objects.exists()
        assert media_files() == before
        return
    assert response.status_code == 302
    image = Generation.objects.get().images.get()
    with default_storage.open(image.fitted.name) as handle:
        data = handle.read()
    fitted = Image.open(io.BytesIO(data))
    fitted.load()
    assert (
        fitted.format in ("JPEG", "PNG") and fitted.mode in ("RGB", "L") and len(data) <= MAX_BYTES
    )
    assert max(fitted.size) <= MAX_SIDE and min(fitted.size) >= MIN_SHORT_SIDE
    assert fitted.size == item.fitted_size
    assert b"<script>" not in data


@pytest.mark.parametrize("name", list(PROMPTS))
def test_hostile_prompt(keyed, corpus: Path, name: str) -> None:
    item, _ = PROMPTS[name]
    text = json.loads((corpus / "prompts.json").read_text())[name]
    response = post_generate(keyed.client("member"), prompt=text)
    assert response.status_code in (302, 400)
    if item.outcome == "error":
        assert response.status_code == 400
        assert item.words in " ".join(response.context["form"].errors[item.field])
        assert not Generation.objects.exists() and not LedgerEntry.objects.exists()
    else:
        assert response.status_code == 302
        assert Generation.objects.get().prompt == text.strip()


HOSTILE = [PROMPTS[name][1] for name in ("html-script", "html-attribute", "template-syntax")]


def ready_job(team, prompt: str) -> Generation:  # type: ignore[no-untyped-def]
    return mark_ready(make_job(team, prompt=prompt), video=b"\0" * 32, poster=b"\xff\xd8\xff\xd9")


def _assert_escaped(html: str, prompt: str, where: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html, where
    if "{{" in prompt:
        assert "{{ request.user }}" in html, f"{where}: the template text must show literally"


def test_prompts_are_escaped_everywhere(keyed) -> None:
    jobs = [ready_job(keyed.team, prompt) for prompt in HOSTILE]
    link = ShareLink.new(team=keyed.team)
    link.save()
    for position, job in enumerate(jobs):
        link.items.create(generation=job, position=position)
    member = keyed.client("member")
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    pages = {
        "studio": member.get(reverse("studio", args=["team-a"])),
        "gallery": member.get(reverse("gallery", args=["team-a"])),
        "public share": Client().get(reverse("public-share", args=[link.key])),
        "admin list": operator.get(reverse("admin:generations_generation_changelist")),
        **{f"job {j.pk}": member.get(reverse("job-detail", args=["team-a", j.pk])) for j in jobs},
        **{
            f"admin job {j.pk}": operator.get(
                reverse("admin:generations_generation_change", args=[j.pk])
            )
            for j in jobs
        },
    }
    for where, response in pages.items():
        assert response.status_code == 200, where
        html = response.content.decode()
        shown = [
            j.prompt
            for j in jobs
            if not where.startswith(("job", "admin job")) or where.endswith(f" {j.pk}")
        ]
        for prompt in shown:
            _assert_escaped(html, prompt, where)
    share = pages["public share"].content.decode()
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in share
    assert (
        'content="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;' in share or "&lt;img src=x" in share
    )


# --- text that became numbers, dates and JSON ---------------------------------------------

DEEP = "[" * 50_000 + "]" * 50_000


@pytest.fixture
def api_member(keyed):  # type: ignore[no-untyped-def]
    from tests.api_client import Api, token_for

    return Api(token_for(keyed, "member"))


@pytest.mark.parametrize(
    "path",
    [
        "/v1/video/generations/²",
        "/v1/videos/²",
        "/v1/video/generations/99999999999999999999",
        "/api/v1/generations/99999999999999999999",
    ],
)
def test_a_task_id_that_is_not_a_number_is_not_found(api_member, path: str) -> None:
    answer = api_member.get(path)
    assert answer.status_code in (400, 404, 422), answer.status_code


@pytest.mark.parametrize(
    "ids",
    ["²", "1,³", "99999999999999999999", "9" * 3000, "1," * 2000],
)
def test_a_zip_of_ids_that_are_not_numbers_is_refused_in_words(keyed, ids: str) -> None:
    job = mark_ready(make_job(keyed.team))
    answer = keyed.client("viewer").get(
        reverse("gallery-zip", args=["team-a"]), {"ids": ids}, follow=True
    )
    assert answer.status_code == 200
    assert "by their numbers" in answer.content.decode()
    assert job.pk  # the gallery it came back to


def test_a_share_of_a_video_number_that_is_not_one_is_refused_in_words(keyed) -> None:
    answer = keyed.client("member").post(
        reverse("share-create", args=["team-a"]), {"generations": "²"}, follow=True
    )
    assert answer.status_code == 200 and "not video numbers" in answer.content.decode()
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize("month", ["0000-01", "2026-13", "٢٠٢٦-01", "2026-00"])
def test_a_ledger_month_that_does_not_exist_is_refused_in_words(keyed, month: str) -> None:
    answer = keyed.client("admin").get(
        reverse("ledger-csv", args=["team-a"]), {"month": month}, follow=True
    )
    assert answer.status_code == 200 and "YYYY-MM" in answer.content.decode()


def test_a_lone_surrogate_in_a_prompt_is_refused_in_words(api_member) -> None:
    body = '{"mode": "t2v_720p", "prompt": "\\ud800", "duration": 5}'
    answer = api_member.client.post(
        "/api/v1/generations", body, content_type="application/json", headers=api_member.headers
    )
    assert answer.status_code == 400 and "surrogate" in answer.json()["detail"]
    assert not Generation.objects.exists()


def test_deep_json_in_a_string_or_a_body_is_refused_in_words(api_member) -> None:
    answer = api_member.post(
        "/v1/video/generations", {"model": "t2v_720p", "prompt": "x", "metadata": DEEP}
    )
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"]["message"]
    answer = api_member.client.post(
        "/api/v1/generations", DEEP, content_type="application/json", headers=api_member.headers
    )
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["detail"]
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/t/team-a/jobs/99999999999999999999/",
        "/t/team-a/jobs/99999999999999999999/poster",
        "/t/team-a/prompts/99999999999999999999/delete/",
    ],
)
def test_an_id_too_long_for_the_database_in_a_page_address_is_not_found(keyed, path) -> None:
    assert keyed.client("member").get(path).status_code == 404


def test_a_callback_with_deep_json_is_taken_quietly(client) -> None:
    assert client.post("/hooks/ark/" + "x" * 32 + "/", DEEP, "application/json").status_code in (
        204,
        404,
    )


@pytest.mark.parametrize("day", [("until", "9999-12-31"), ("since", "0001-01-01")])
def test_a_gallery_day_at_the_end_of_the_calendar_is_refused_in_words(keyed, day) -> None:
    from tests.api_client import Api, token_for

    name, value = day
    page = keyed.client("viewer").get(reverse("gallery", args=["team-a"]), {name: value})
    assert page.status_code == 200 and "Choose a day between" in page.content.decode()
    for path in ("/t/team-a/gallery/export.csv", "/t/team-a/gallery/videos.zip"):
        assert keyed.client("viewer").get(path, {name: value}).status_code < 500
    listed = Api(token_for(keyed, "viewer")).get(f"/api/v1/generations?{name}={value}")
    assert listed.status_code == 400


def test_a_multipart_body_without_a_boundary_is_refused_in_words(api_member) -> None:
    """Found by Schemathesis: Django answers it 400, inside Ninja it was a 500."""
    answer = api_member.client.post(
        "/api/v1/generations/upload",
        b"--x\r\nmode=t2v_720p",
        content_type="multipart/form-data",
        headers=api_member.headers,
    )
    assert answer.status_code == 400 and "multipart" in answer.json()["detail"]
    openai = api_member.client.post(
        "/v1/video/generations",
        b"--x\r\n",
        content_type="multipart/form-data",
        headers=api_member.headers,
    )
    assert openai.status_code in (400, 415) and "Traceback" not in openai.content.decode()
