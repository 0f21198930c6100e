"""The team's API page: personal access tokens for every member, outgoing webhooks and
their delivery log for admins (docs/api.md).

A new token or webhook secret is shown once, on the page the POST redirects to (so a
reload does not make another): it waits in the session encrypted with CREDENTIALS_KEYS,
and is taken out when shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from generations import crypto
from generations.access import TeamAccess, team_view
from generations.forms.api import TokenForm, WebhookForm
from generations.models import ApiToken, Role, Webhook, WebhookDelivery
from generations.services import webhooks

DELIVERY_LOG_SIZE = 50
REVEAL = "api-reveal"


def _keep_for_once(request: HttpRequest, kind: str, secret: str, **extra: Any) -> None:
    request.session[REVEAL] = {"kind": kind, "secret": crypto.encrypt(secret), **extra}


def _take(request: HttpRequest, kind: str) -> dict[str, Any] | None:
    kept = request.session.get(REVEAL)
    if not kept or kept.get("kind") != kind:
        return None
    del request.session[REVEAL]
    return {**kept, "secret": crypto.decrypt(kept["secret"])}


def _tokens_page(request: HttpRequest, access: TeamAccess, form: TokenForm) -> HttpResponse:
    kept = _take(request, "token")
    tokens = ApiToken.objects.filter(team=access.team).select_related("user")
    context: dict[str, Any] = {
        "access": access,
        "form": form,
        "new_token": kept["secret"] if kept else "",
        "mine": [t for t in tokens if t.user_id == request.user.pk],
        "team_tokens": [t for t in tokens if t.user_id != request.user.pk]
        if access.can_manage
        else [],
        "api_base": request.build_absolute_uri("/api/v1/"),
    }
    return render(request, "api/tokens.html", context)


@never_cache
@team_view(Role.VIEWER, post=Role.VIEWER)
def tokens(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    """Every member makes tokens for themself; a token acts with its member's role."""
    if request.method != "POST":
        return _tokens_page(request, access, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, access, form)
    days = form.cleaned_data["expires_in_days"]
    _token, plain = ApiToken.issue(
        team=access.team,
        user=request.user,
        name=form.cleaned_data["name"],
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    _keep_for_once(request, "token", plain)
    return redirect("api-tokens", slug=access.team.slug)


@require_POST
@team_view(Role.VIEWER)
def token_revoke(request: HttpRequest, access: TeamAccess, token_id: int) -> HttpResponse:
    """Your own tokens; admins any of the team's."""
    token = get_object_or_404(ApiToken, pk=token_id, team=access.team)
    if token.user_id != request.user.pk and not access.can_manage:
        raise PermissionDenied
    if token.revoke():
        messages.success(request, _("The token %(name)s is revoked.") % {"name": token.name})
    return redirect("api-tokens", slug=access.team.slug)


def _webhooks_page(request: HttpRequest, access: TeamAccess, form: WebhookForm) -> HttpResponse:
    kept = _take(request, "webhook")
    hooks = Webhook.objects.filter(team=access.team)
    deliveries = (
        WebhookDelivery.objects.filter(webhook__team=access.team)
        .select_related("webhook")
        .order_by("-created_at", "-pk")[:DELIVERY_LOG_SIZE]
    )
    context = {
        "access": access,
        "form": form,
        "hooks": hooks,
        "deliveries": deliveries,
        "new_secret": kept["secret"] if kept else "",
        "new_hook": hooks.filter(pk=kept["webhook"]).first() if kept else None,
        "signature_header": webhooks.SIGNATURE_HEADER,
        "timestamp_header": webhooks.TIMESTAMP_HEADER,
    }
    return render(request, "api/webhooks.html", context)


@never_cache
@team_view(Role.ADMIN)
def webhook_list(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    if request.method != "POST":
        return _webhooks_page(request, access, WebhookForm())
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _webhooks_page(request, access, form)
    hook, secret = webhooks.add(
        team=access.team,
        url=form.cleaned_data["url"],
        events=form.cleaned_data["events"],
        user=request.user,
    )
    _keep_for_once(request, "webhook", secret, webhook=hook.pk)
    return redirect("api-webhooks", slug=access.team.slug)


@require_POST
@team_view(Role.ADMIN)
def webhook_delete(request: HttpRequest, access: TeamAccess, webhook_id: int) -> HttpResponse:
    hook = get_object_or_404(Webhook, pk=webhook_id, team=access.team)
    hook.delete()
    messages.success(request, _("The webhook to %(url)s is deleted.") % {"url": hook.url})
    return redirect("api-webhooks", slug=access.team.slug)


@require_POST
@team_view(Role.ADMIN)
def webhook_ping(request: HttpRequest, access: TeamAccess, webhook_id: int) -> HttpResponse:
    hook = get_object_or_404(Webhook, pk=webhook_id, team=access.team)
    webhooks.ping(hook)
    messages.success(request, _("A test event is on its way; see the log below."))
    return redirect("api-webhooks", slug=access.team.slug)


@require_POST
@team_view(Role.ADMIN)
def delivery_resend(request: HttpRequest, access: TeamAccess, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("webhook"),
        pk=delivery_id,
        webhook__team=access.team,
    )
    webhooks.resend(delivery)
    messages.success(request, _("The event is sent again."))
    return redirect("api-webhooks", slug=access.team.slug)
