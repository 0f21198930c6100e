"""Share links: create, list with view counts, revoke; and the public pages."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from generations import media
from generations.access import TeamAccess, public_view, team_view
from generations.errors import Refused
from generations.forms.gallery import ShareForm
from generations.models import Generation, Role, ShareItem, ShareLink, Status
from generations.services.jobs import chain_of
from generations.services.sharing import create_share
from generations.views.accounts import safe_next
from generations.views.fragments import fragment, messages_only, wants_fragment
from generations.views.joined import joined_download


@team_view(Role.VIEWER)
def share_list(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    links = list(
        ShareLink.objects.filter(team=access.team)
        .select_related("created_by")
        .annotate(item_count=Count("items"))
        .order_by("-created_at")
    )
    new_link = request.session.pop("new_share_url", None)
    # A link to one video is shown by that video (poster and prompt), not by its id.
    single = {
        item.link_id: item.generation
        for item in ShareItem.objects.filter(
            link__in=[link for link in links if link.item_count == 1]  # type: ignore[attr-defined]
        ).select_related("generation")
    }
    for link in links:
        link.may_revoke = access.can_revoke(link)  # type: ignore[attr-defined]
        link.single = single.get(link.pk)  # type: ignore[attr-defined]
    return render(
        request, "sharing/list.html", {"access": access, "links": links, "new_link": new_link}
    )


@require_POST
@team_view(Role.MEMBER)
def share_create(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    form = ShareForm(request.POST)
    if not form.is_valid():
        errors = form.errors.get("generations") or [_("Choose at least one video to share.")]
        messages.error(request, str(errors[0]))
        if wants_fragment(request):
            return messages_only(request)
        return redirect("gallery", slug=access.team.slug)
    days = form.cleaned_data["expires_in_days"]
    try:
        link = create_share(
            team=access.team,
            user=request.user,
            generation_ids=form.cleaned_data["generations"],
            title=form.cleaned_data["title"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
    except Refused as refusal:
        messages.error(request, str(refusal))
        if wants_fragment(request):
            return messages_only(request)
        return redirect("gallery", slug=access.team.slug)
    url = request.build_absolute_uri(reverse("public-share", args=[link.key]))
    if wants_fragment(request):  # shared from a card: the link shows in it
        ids = form.cleaned_data["generations"]
        suffix = f"-{ids[0]}" if len(ids) == 1 else ""
        context = {"access": access, "new_link": url, "suffix": suffix}
        return fragment(request, "sharing/_shared.html", context)
    request.session["new_share_url"] = url
    # Shared from a job's page: the link is shown there, where the person is.
    back = safe_next(request, "")
    return redirect(back or reverse("share-list", args=[access.team.slug]))


@require_POST
@team_view(Role.MEMBER)
def share_revoke(request: HttpRequest, access: TeamAccess, link_id: int) -> HttpResponse:
    link = get_object_or_404(ShareLink, pk=link_id, team=access.team)
    if not access.can_revoke(link):
        raise PermissionDenied
    link.revoke()
    messages.success(request, _("The link was revoked; it no longer opens."))
    return redirect("share-list", slug=access.team.slug)


class LinkGone(Exception):
    """The key names no link (404), or one that was revoked or expired (410)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def live_link(key: str) -> ShareLink:
    link = ShareLink.find(key)
    if link is None:
        raise LinkGone(404)
    if not link.is_live:
        raise LinkGone(410)
    return link


def gone_page(request: HttpRequest, gone: LinkGone) -> HttpResponse:
    """Our own page, in DEBUG too: a visitor of a dead link never sees a debug page."""
    response = render(request, "sharing/gone.html", {"status": gone.status}, status=gone.status)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


@public_view
def public_share(request: HttpRequest, key: str) -> HttpResponse:
    try:
        link = live_link(key)
    except LinkGone as gone:
        return gone_page(request, gone)
    link.record_view()
    items = [
        item.generation
        for item in link.items.select_related("generation").order_by("position")
        if item.generation.status == Status.READY
    ]
    context = {
        "link": link,
        "items": items,
        "first": items[0] if items else None,
        "chains": shared_chains(items),
    }
    response = render(request, "sharing/public.html", context)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"  # the key is in the URL
    return response


@public_view
def public_media(request: HttpRequest, key: str, generation_id: int, kind: str) -> HttpResponse:
    try:
        link = live_link(key)
    except LinkGone as gone:
        return gone_page(request, gone)
    generation = get_object_or_404(
        Generation, pk=generation_id, status=Status.READY, share_links=link
    )
    if kind == "poster":
        return media.redirect_to(generation.poster.name or "")
    if kind == "video":
        return media.redirect_to(generation.video.name or "")
    if kind == "download":
        name = f"jimeng-{generation.pk}.mp4"
        return media.redirect_to(generation.video.name or "", download_name=name)
    raise Http404("no such media")


def shared_chains(items: list[Generation]) -> list[list[Generation]]:
    """The chains of extensions whose every part is on the share, each once."""
    shared = {item.pk for item in items}
    chains: list[list[Generation]] = []
    seen: set[int] = set()
    for item in items:
        if item.pk in seen or not (
            item.extends_id or item.extensions.filter(status=Status.READY).exists()
        ):
            continue
        parts = chain_of(item)
        if len(parts) > 1 and all(part.pk in shared for part in parts):
            chains.append(parts)
            seen.update(part.pk for part in parts)
    return chains


@public_view
def public_chain_mp4(request: HttpRequest, key: str, generation_id: int) -> HttpResponse:
    """A chain on a share link as one MP4, when every part of it is on the link."""
    try:
        link = live_link(key)
    except LinkGone as gone:
        return gone_page(request, gone)
    generation = get_object_or_404(
        Generation, pk=generation_id, status=Status.READY, share_links=link
    )
    parts = chain_of(generation)
    shared = set(link.items.values_list("generation_id", flat=True))
    if len(parts) < 2 or any(part.pk not in shared for part in parts):
        raise Http404("not a whole chain on this link")
    response = joined_download(
        request, parts, base="sharing/public_base.html", back=reverse("public-share", args=[key])
    )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


@public_view
def signed_media(request: HttpRequest, token: str) -> HttpResponseBase:
    return media.serve_signed(request, token)
