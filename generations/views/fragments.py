"""Answers to htmx requests: a part of a page instead of a redirect.

An action's form works without JavaScript (it posts and is redirected back); with htmx
(`hx-post`; static/vendor/htmx.min.js, docs/architecture.md "Pages") the same view answers with the
part of the page that changed, and the messages it added travel along out of band,
into the page's message list. The page keeps its scroll and its form.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def wants_fragment(request: HttpRequest) -> bool:
    """Whether htmx asked, for this page (a boosted or history request wants the page)."""
    htmx = getattr(request, "htmx", None)
    if htmx is None or not htmx:
        return False
    return not htmx.boosted and not htmx.history_restore_request


def fragment(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    retarget: str = "",
    reswap: str = "",
) -> HttpResponse:
    """`template` rendered for htmx, with the request's messages swapped in out of band.

    `retarget`/`reswap` put the answer somewhere other than where the element asked
    (a refused submit shows its form again, with the reasons, instead of a new job)."""
    html = render_to_string(template, context, request=request)
    html += render_to_string("includes/messages.html", {"oob": True}, request=request)
    response = HttpResponse(html)
    if retarget:
        response["HX-Retarget"] = retarget
    if reswap:
        response["HX-Reswap"] = reswap
    return response


def messages_only(request: HttpRequest) -> HttpResponse:
    """Nothing changes where the element asked; the messages say why (a refusal)."""
    html = render_to_string("includes/messages.html", {"oob": True}, request=request)
    response = HttpResponse(html)
    response["HX-Reswap"] = "none"
    return response
