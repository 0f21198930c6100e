"""Answering for a joined video, from the team's pages and from a share link alike."""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from generations import media
from generations.errors import Refused
from generations.models import Generation, JoinState
from generations.services.joining import joined_video
from generations.views.fragments import fragment, wants_fragment

# How often the waiting page asks again (seconds).
REFRESH_SECONDS = 2


def joined_download(
    request: HttpRequest, parts: Sequence[Generation], *, base: str, back: str
) -> HttpResponse:
    """The joined MP4 as a download once it is made; until then a page that says what is
    happening and asks again by itself (202), or why it failed, with a way to try again
    (`?again=1`)."""
    try:
        joined = joined_video(parts, again=request.GET.get("again") == "1")
    except Refused as refused:
        if wants_fragment(request):
            return fragment(request, "studio/_joining.html", {"problem": str(refused)})
        context: dict[str, object] = {
            "base": base,
            "back": back,
            "problem": str(refused),
            "parts": parts,
        }
        return render(request, "studio/joining.html", context, status=409)
    if wants_fragment(request):  # asked from a card: its state there, asking again itself
        context = {"joined": joined, "parts": parts, "url": request.path}
        response = fragment(request, "studio/_joining.html", context)
        response["Cache-Control"] = "no-store"
        return response
    if joined.state == JoinState.READY:
        name = f"jimeng-chain-{parts[0].pk}-{parts[-1].pk}.mp4"
        return media.redirect_to(joined.file.name or "", download_name=name)
    context = {
        "base": base,
        "back": back,
        "joined": joined,
        "parts": parts,
        "refresh": REFRESH_SECONDS,
    }
    status = 202 if joined.state == JoinState.BUILDING else 200
    response = render(request, "studio/joining.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response
