"""Template helpers of the studio's pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from generations.models import Generation
from generations.views.progress import progress as job_progress

register = template.Library()


@register.filter
def progress(job: Generation) -> dict[str, Any]:
    """`{% with state=job|progress %}`: the running job's note and expected time."""
    return job_progress(job)


@register.filter
def secs(value: Any) -> str:
    """A length in seconds, as people read it in their language ("5 s", "5 秒")."""
    if value is None or value == "":
        return ""
    return str(_("%(n)s s") % {"n": value})
