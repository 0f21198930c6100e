"""Prompts to start from: each member's recent prompts, and the team's templates
(saved from the form, used from the list, removed by their author or an admin)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generations.models import PromptTemplate
from generations.services import prompts
from tests.pipeline import make_job

pytestmark = pytest.mark.django_db


def _options(page: str, select_id: str) -> list[str]:
    block = page.split(f'id="{select_id}"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="([^"]+)"', block)


def test_each_member_sees_their_own_recent_prompts_newest_first(keyed) -> None:
    for text in ("a kite", "a boat", "a kite"):
        make_job(keyed.team, prompt=text, user=keyed.member)
    make_job(keyed.team, prompt="the admin's lighthouse", user=keyed.admin)
    page = keyed.client("member").get(reverse("studio", args=["team-a"])).content.decode()
    assert _options(page, "prompt-history") == ["a kite", "a boat"]
    assert prompts.history(keyed.team, keyed.admin.pk) == ["the admin's lighthouse"]


def test_a_prompt_is_saved_as_a_team_template_and_used(keyed) -> None:
    member = keyed.client("member")
    # The form's "Save as template" button posts the whole form here; no job is made.
    response = member.post(
        reverse("prompt-template-create", args=["team-a"]),
        {"prompt": "一盏灯笼 drifting up, slow", "mode": "t2v_1080p", "template_name": "Lantern"},
    )
    assert response.status_code == 302
    template = PromptTemplate.objects.get()
    assert (template.name, template.mode, template.created_by) == (
        "Lantern",
        "t2v_1080p",
        keyed.member,
    )
    admin_page = keyed.client("admin").get(reverse("studio", args=["team-a"])).content.decode()
    assert _options(admin_page, "prompt-templates") == ["一盏灯笼 drifting up, slow"]
    assert 'data-mode="t2v_1080p">Lantern</option>' in admin_page

    used = member.get(
        reverse("studio", args=["team-a"]), {"template": template.pk}
    ).content.decode()
    assert 'value="t2v_1080p" selected' in used and "一盏灯笼 drifting up, slow</textarea>" in used

    again = member.post(
        reverse("prompt-template-create", args=["team-a"]),
        {"prompt": "other", "template_name": " Lantern "},
        follow=True,
    )
    assert "already has a template called “Lantern”" in again.content.decode()
    empty = member.post(
        reverse("prompt-template-create", args=["team-a"]),
        {"prompt": "", "template_name": "X"},
        follow=True,
    )
    assert "Write the prompt first" in empty.content.decode()
    assert PromptTemplate.objects.count() == 1


def test_templates_are_removed_by_their_author_or_an_admin(keyed) -> None:
    template = prompts.save_template(
        team=keyed.team, user=keyed.member, name="Mine", prompt="p", mode=""
    )
    url = reverse("prompt-template-delete", args=["team-a", template.pk])
    assert keyed.client("viewer").post(url).status_code == 403
    other = prompts.save_template(
        team=keyed.team, user=keyed.admin, name="Theirs", prompt="q", mode=""
    )
    keyed.client("member").post(reverse("prompt-template-delete", args=["team-a", other.pk]))
    assert PromptTemplate.objects.filter(pk=other.pk).exists()  # not the member's
    keyed.client("member").post(url)
    assert not PromptTemplate.objects.filter(pk=template.pk).exists()
    keyed.client("admin").post(reverse("prompt-template-delete", args=["team-a", other.pk]))
    assert not PromptTemplate.objects.exists()
    listing = keyed.client("viewer").get(reverse("prompt-templates", args=["team-a"]))
    assert listing.status_code == 200 and "No templates yet." in listing.content.decode()
