"""Downloads for finance and for keeping: the ledger and the gallery as CSV, videos as
a zip (a selection, the gallery's filters, or a shared album). All streamed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from generations.access import TeamAccess, public_view, team_view
from generations.forms.gallery import GalleryFilterForm
from generations.forms.values import parse_ids
from generations.models import Generation, Role, ShareLink, Status
from generations.services import exports
from generations.views.sharing import LinkGone, gone_page, live_link

MAX_ZIP_VIDEOS = 200
MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def _download(content: Iterator[Any], filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _stamp() -> str:
    return timezone.localdate().isoformat()


@team_view(Role.VIEWER)
def gallery_csv(request: HttpRequest, access: TeamAccess) -> HttpResponseBase:
    """The gallery as the filters show it, one row per job."""
    form = GalleryFilterForm(
        request.GET or None, team=access.team, user_id=int(request.user.pk or 0)
    )
    rows = exports.gallery_rows(form.jobs())
    return _download(
        exports.csv_rows(exports.GALLERY_HEADER, rows),
        f"gallery-{access.team.slug}-{_stamp()}.csv",
        "text/csv; charset=utf-8",
    )


def _month(text: str) -> date | None:
    found = MONTH.match(text)
    try:
        return date(int(found.group(1)), int(found.group(2)), 1) if found else None
    except ValueError:  # month 13, year 0
        return None


@team_view(Role.ADMIN)
def ledger_csv(request: HttpRequest, access: TeamAccess) -> HttpResponseBase:
    """Every reservation, settlement, release and top-up (of one month with ?month=)."""
    entries = access.team.ledger.all()
    month = request.GET.get("month", "")
    label = "all"
    if month:
        period = _month(month)
        if period is None:
            messages.error(request, _("Choose a month as YYYY-MM."))
            return redirect("team-detail", slug=access.team.slug)
        entries = entries.filter(period=period)
        label = month
    return _download(
        exports.csv_rows(exports.LEDGER_HEADER, exports.ledger_rows(entries)),
        f"ledger-{access.team.slug}-{label}.csv",
        "text/csv; charset=utf-8",
    )


def _zip(jobs: list[Generation], filename: str) -> StreamingHttpResponse:
    return _download(exports.stream_zip(exports.video_entries(jobs)), filename, "application/zip")


@team_view(Role.VIEWER)
def gallery_zip(request: HttpRequest, access: TeamAccess) -> HttpResponseBase:
    """The selected videos (?ids=1,2,3), or every ready video the filters show."""
    ready = Generation.objects.for_team(access.team).filter(status=Status.READY)
    ids = parse_ids(request.GET.get("ids", ""), limit=MAX_ZIP_VIDEOS)
    if ids is None:
        messages.error(
            request,
            _("Choose up to %(n)s videos by their numbers.") % {"n": MAX_ZIP_VIDEOS},
        )
        return redirect("gallery", slug=access.team.slug)
    if ids:
        order = {pk: index for index, pk in enumerate(ids)}
        jobs = sorted(ready.filter(pk__in=ids[:MAX_ZIP_VIDEOS]), key=lambda job: order[job.pk])
    else:
        form = GalleryFilterForm(
            request.GET or None, team=access.team, user_id=int(request.user.pk or 0)
        )
        jobs = list(form.jobs().filter(status=Status.READY)[:MAX_ZIP_VIDEOS])
    if not jobs:
        messages.error(request, _("Choose at least one finished video to download."))
        return redirect("gallery", slug=access.team.slug)
    return _zip(jobs, f"videos-{access.team.slug}-{_stamp()}.zip")


def _album(link: ShareLink) -> list[Generation]:
    items = link.items.select_related("generation").order_by("position")
    return [item.generation for item in items if item.generation.status == Status.READY]


@team_view(Role.VIEWER)
def share_zip(request: HttpRequest, access: TeamAccess, link_id: int) -> HttpResponseBase:
    """A shared album's videos, for the team (whatever became of the link)."""
    link = get_object_or_404(ShareLink, pk=link_id, team=access.team)
    return _zip(_album(link), f"album-{link.pk}-{_stamp()}.zip")


@public_view
def public_share_zip(request: HttpRequest, key: str) -> HttpResponseBase:
    """A live shared album's videos, for whoever has the link."""
    try:
        link = live_link(key)
    except LinkGone as gone:
        return gone_page(request, gone)
    response = _zip(_album(link), f"album-{_stamp()}.zip")
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
