"""The team gallery: a grid of results with filters, totals and pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from generations import gallery_totals
from generations.access import TeamAccess, team_view
from generations.forms.gallery import GalleryFilterForm
from generations.models import Generation, Role, Status

PAGE_SIZE = 24


def _totals(
    access: TeamAccess, form: GalleryFilterForm, jobs: QuerySet[Generation]
) -> dict[str, Any]:
    """From the kept totals when the filters allow; prompt text needs the jobs themselves."""
    data = form.cleaned_data if form.is_valid() else {}
    if not data.get("q"):
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
    form = GalleryFilterForm(request.GET or None, team=access.team)
    jobs = form.jobs()
    totals = _totals(access, form, jobs)
    continued = Generation.objects.filter(extends=OuterRef("pk"), status=Status.READY)
    listed = jobs.select_related("created_by").annotate(continued=Exists(continued))
    paginator = Paginator(listed, PAGE_SIZE)
    paginator.count = totals["count"]  # already counted with the totals: one query less
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "access": access,
        "form": form,
        "page": page,
        "totals": {
            "count": totals["count"],
            "seconds": totals["seconds"] or 0,
            "cost": Decimal(totals["cost"] or 0).quantize(Decimal("0.01")),
        },
        "query": query.urlencode(),
    }
    return render(request, "gallery/gallery.html", context)
