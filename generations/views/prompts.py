"""The team's prompt templates: saved from the generate form, listed, removed."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from generations.access import TeamAccess, team_view
from generations.errors import Refused
from generations.labels import mode_label
from generations.models import PromptTemplate, Role
from generations.services import prompts
from generations.views.fragments import fragment, messages_only, wants_fragment


@team_view(Role.VIEWER)
def template_list(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    templates = [
        (
            template,
            mode_label(template.mode) if template.mode else "",
            prompts.may_delete(template, access.membership),
        )
        for template in PromptTemplate.objects.filter(team=access.team).select_related("created_by")
    ]
    return render(request, "prompts/list.html", {"access": access, "templates": templates})


@require_POST
@team_view(Role.MEMBER)
def template_create(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    """Save the generate form's prompt (and mode) under a name; back to the form."""
    try:
        template = prompts.save_template(
            team=access.team,
            user=request.user,
            name=request.POST.get("template_name", ""),
            prompt=request.POST.get("prompt", ""),
            mode=request.POST.get("mode", ""),
        )
    except Refused as refusal:
        messages.error(request, str(refusal))
        if wants_fragment(request):
            return messages_only(request)  # the form and its name stay as typed
    else:
        messages.success(request, _("Saved the template “%(name)s”.") % {"name": template.name})
        if wants_fragment(request):  # the team's list, with the new one; the form stays
            templates = PromptTemplate.objects.filter(team=access.team)
            context = {"access": access, "prompt_templates": templates}
            return fragment(request, "studio/_templates_select.html", context)
    return redirect(reverse("studio", args=[access.team.slug]))


@require_POST
@team_view(Role.MEMBER)
def template_delete(request: HttpRequest, access: TeamAccess, template_id: int) -> HttpResponse:
    template = get_object_or_404(PromptTemplate, pk=template_id, team=access.team)
    if not prompts.may_delete(template, access.membership):
        messages.error(request, _("Only its author or an admin can remove this template."))
    else:
        template.delete()
        messages.success(request, _("Template removed."))
    return redirect("prompt-templates", slug=access.team.slug)
