"""The bell: a member's notifications across their teams, and whether they also want
an email, team by team."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from generations.access import signed_in_view
from generations.models import Membership, Notification
from generations.services import notifications

SHOWN = 50


@signed_in_view
def notification_list(request: HttpRequest) -> HttpResponse:
    """The latest notifications; opening the page reads them."""
    user_id = int(request.user.pk or 0)  # signed in: signed_in_view sees to it
    items = list(
        Notification.objects.filter(user_id=user_id)
        .select_related("team", "generation")
        .order_by("-created_at", "-pk")[:SHOWN]
    )
    memberships = Membership.objects.filter(user_id=user_id).select_related("team")
    # Read from now on; the page still marks which were new (`items` is already loaded).
    notifications.mark_read(user_id)
    context = {"items": items, "memberships": memberships.order_by("team__name")}
    return render(request, "notifications/list.html", context)


@require_POST
@signed_in_view
def notification_email(request: HttpRequest) -> HttpResponse:
    """Email me when my jobs finish: on for the teams ticked, off for the others."""
    wanted = set(request.POST.getlist("teams"))
    for membership in Membership.objects.filter(user_id=int(request.user.pk or 0)):
        choice = str(membership.team_id) in wanted
        if membership.notify_by_email != choice:
            membership.notify_by_email = choice
            membership.save(update_fields=["notify_by_email"])
    if wanted and not getattr(request.user, "email", ""):
        messages.warning(request, _("Your account has no email address, so no email can be sent."))
    else:
        messages.success(request, _("Email notifications saved."))
    return redirect("notifications")
