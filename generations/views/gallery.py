"""The team gallery: a grid of results with filters, totals and pages; favourites,
tags and deleting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from generations.access import TeamAccess, team_view
from generations.errors import Refused
from generations.forms.gallery import GalleryFilterForm
from generations.models import Generation, Role, Status
from generations.services import gallery_totals, housekeeping
from generations.services import variants as takes
from generations.views.accounts import safe_next
from generations.views.fragments import fragment, messages_only, wants_fragment

PAGE_SIZE = 24


def _totals(
    access: TeamAccess, form: GalleryFilterForm, jobs: QuerySet[Generation]
) -> dict[str, Any]:
    """From the kept totals when the filters allow; prompt text needs the jobs themselves."""
    data = form.cleaned_data if form.is_valid() else {}
    if not form.needs_jobs:
        kept = gallery_totals.totals(
            access.team,
            mode=data.get("mode", ""),
            author=data.get("author", ""),
            since=data.get("since"),
            until=data.get("until"),
            status=data.get("status", ""),
        )
        if kept is not None:
            return kept
    return jobs.aggregate(
        count=Count("pk"),
        seconds=Sum("seconds", filter=Q(status=Status.READY)),
        cost=Sum("cost_cny", filter=Q(status=Status.READY)),
    )


@team_view(Role.VIEWER)
def gallery(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    user_id = int(request.user.pk or 0)
    form = GalleryFilterForm(request.GET or None, team=access.team, user_id=user_id)
    jobs = form.jobs()
    totals = _totals(access, form, jobs)
    listed = jobs.with_tile_facts(user_id).select_related("created_by").prefetch_related("tags")
    paginator = Paginator(listed, PAGE_SIZE)
    paginator.count = totals["count"]  # already counted with the totals: one query less
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # The takes of one submit share a tile (the one kept, or the newest, with the others
    # small beside it), unless the page lists one submit's takes on purpose.
    listing_one_submit = form.is_valid() and form.cleaned_data.get("batch")
    groups = (
        [takes.Group("", [job]) for job in page]
        if listing_one_submit
        else takes.grouped(page.object_list)
    )
    context = {
        "access": access,
        "form": form,
        "page": page,
        "groups": groups,
        "totals": {
            "count": totals["count"],
            "seconds": totals["seconds"] or 0,
            "cost": Decimal(totals["cost"] or 0).quantize(Decimal("0.01")),
        },
        "query": query.urlencode(),
    }
    return render(request, "gallery/gallery.html", context)


def _job(access: TeamAccess, generation_id: int) -> Generation:
    return get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)


@require_POST
@team_view(Role.VIEWER)
def job_favourite(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    """Each member's own favourites (viewers too: it changes nothing of the team's)."""
    generation = _job(access, generation_id)
    kept = housekeeping.toggle_favourite(generation, request.user)
    if wants_fragment(request):
        look = "button" if request.POST.get("look") == "button" else "star"
        return fragment(
            request,
            "studio/_favourite.html",
            {"access": access, "job": generation, "is_favourite": kept, "look": look},
        )
    return redirect(
        safe_next(request, reverse("job-detail", args=[access.team.slug, generation.pk]))
    )


@require_POST
@team_view(Role.MEMBER)
def job_tags(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    generation = _job(access, generation_id)
    try:
        housekeeping.set_tags(generation, request.POST.get("tags", ""))
    except Refused as refusal:
        messages.error(request, str(refusal))
        if wants_fragment(request):
            return messages_only(request)  # the field keeps what was typed
    else:
        messages.success(request, _("Tags saved."))
        if wants_fragment(request):
            tags = ", ".join(tag.name for tag in generation.tags.all())
            context = {"access": access, "job": generation, "tags_text": tags}
            return fragment(request, "studio/_tags.html", context)
    return redirect(
        safe_next(request, reverse("job-detail", args=[access.team.slug, generation.pk]))
    )


@require_POST
@team_view(Role.ADMIN)
def job_delete(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    generation = _job(access, generation_id)
    try:
        housekeeping.delete(generation)
    except Refused as refusal:
        messages.error(request, str(refusal))
        return redirect("job-detail", slug=access.team.slug, generation_id=generation.pk)
    messages.success(
        request,
        _("Job #%(id)s deleted; the ledger keeps what it cost.") % {"id": generation.pk},
    )
    return redirect("gallery", slug=access.team.slug)
