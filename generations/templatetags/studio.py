"""Template helpers of the studio's pages."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.middleware.csrf import get_token
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from generations.labels import camera_label as camera_words
from generations.models import Generation
from generations.views.progress import progress as job_progress

register = template.Library()


@register.filter
def progress(job: Generation) -> dict[str, Any]:
    """`{% with state=job|progress %}`: the running job's note and expected time."""
    return job_progress(job)


@register.filter
def camera(job: Generation) -> str:
    """A camera job's movement and strength in words."""
    return camera_words(job.template_id, job.camera_strength)


@register.filter
def secs(value: Any) -> str:
    """A length in seconds, as people read it in their language ("5 s", "5 秒")."""
    if value is None or value == "":
        return ""
    return str(_("%(n)s s") % {"n": value})


def _page_token(request: Any) -> str:
    """One CSRF token for every form of a page: Django masks a fresh one at each
    `{% csrf_token %}` (0.28 ms each), and the gallery's and the feed's cards have up to
    five forms each. Any masked token is valid for the session's secret."""
    token = getattr(request, "_page_csrf_token", None)
    if token is None:
        token = get_token(request)
        request._page_csrf_token = token
    return str(token)


@register.simple_tag(takes_context=True)
def csrf_input(context: Any) -> str:
    """`{% csrf_input %}`: the hidden CSRF field, with the page's one token."""
    return format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">',
        _page_token(context["request"]),
    )


@register.simple_tag(takes_context=True)
def favourite_form(context: Any, job: Generation, is_favourite: bool, look: str = "star") -> str:
    """A member's star for one job: posted in place with htmx, else posted and back.

    A tag rather than an included template: the gallery draws one on each of its tiles,
    and an include per tile cost more than the rest of the tile (bench/gallery.py)."""
    request = context["request"]
    url = job_url(context, "job-favourite", job)
    word = _("Favourite")
    star = "★" if is_favourite else "☆"
    if look == "button":
        classes, testid = "button secondary", "favourite"
        label = format_html("{} {}", star, word)
    else:
        classes, testid = "link favourite", f"favourite-{job.pk}"
        label = format_html('{}<span class="visually-hidden">{}</span>', star, word)
    return format_html(
        '<form method="post" action="{url}" class="inline-form favourite-form" hx-post="{url}"'
        ' hx-target="this" hx-swap="outerHTML"><input type="hidden" name="csrfmiddlewaretoken"'
        ' value="{token}"><input type="hidden" name="next" value="{back}">'
        '<input type="hidden" name="look" value="{look}"><button type="submit" class="{classes}'
        '{on}" data-testid="{testid}" aria-pressed="{pressed}" title="{word}">{label}</button>'
        "</form>",
        url=url,
        token=_page_token(request),
        back=request.get_full_path(),
        look="button" if look == "button" else "star",
        classes=classes,
        on=" on" if is_favourite else "",
        testid=testid,
        pressed="true" if is_favourite else "false",
        word=word,
        label=label,
    )


# reverse() costs about 0.15 ms, and a gallery page of 24 tiles or the workspace's 12
# cards asked for more than a hundred job URLs: a fifth of the page's time. A job's URLs
# differ only in its id, so each is reversed once with a marker id and filled in.
_MARKER = 7_364_019_285


@lru_cache(maxsize=512)
def _url_around_id(name: str, args: tuple[str, ...], urlconf: Any, prefix: str) -> tuple[str, str]:
    url = reverse(name, args=[args[0], _MARKER, *args[1:]], urlconf=urlconf)
    before, marker, after = url.partition(str(_MARKER))
    if not marker or str(_MARKER) in after:
        raise ValueError(url)
    return before, after


@register.simple_tag(takes_context=True)
def job_url(context: Any, name: str, job: Generation, *rest: str) -> str:
    """`{% job_url 'job-media' job 'poster' %}`: reverse(name, args=[slug, job.pk, *rest]),
    the slug the page's team's."""
    slug = context["access"].team.slug
    before, after = _url_around_id(name, (slug, *rest), get_urlconf(), get_script_prefix())
    return f"{before}{job.pk}{after}"
