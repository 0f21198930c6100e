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


def _ready(team, prompt: str) -> Generation:  # type: ignore[no-untyped-def]
    return mark_ready(make_job(team, prompt=prompt), video=b"\0" * 32, poster=b"\xff\xd8\xff\xd9")


def _assert_escaped(html: str, prompt: str, where: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html, where
    if "{{" in prompt:
        assert "{{ request.user }}" in html, f"{where}: the template text must show literally"


def test_prompts_are_escaped_everywhere(keyed) -> None:
    jobs = [_ready(keyed.team, prompt) for prompt in HOSTILE]
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
