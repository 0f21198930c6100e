"""Personal access tokens and outgoing webhooks (the team's API page)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from generations.jimeng.addresses import AddressRefused
from generations.models import WebhookEvent
from generations.services import webhooks

TOKEN_LIFETIMES = [
    (30, _("30 days")),
    (90, _("90 days")),
    (365, _("1 year")),
    (0, _("Never")),
]


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=60,
        help_text=_("What the token is for, e.g. “nightly render script”."),
    )
    expires_in_days = forms.TypedChoiceField(
        label=_("Expires"), coerce=int, choices=TOKEN_LIFETIMES, initial=90
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the token a name."))
        return name


EVENT_CHOICES = [(e.value, e.label) for e in WebhookEvent if e != WebhookEvent.PING]


class WebhookForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        help_text=_("Where the studio POSTs the events: https:// on a public address."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=[WebhookEvent.JOB_READY, WebhookEvent.JOB_FAILED],
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise forms.ValidationError(_("Enter an http:// or https:// address."))
        if parts.username or parts.password:
            raise forms.ValidationError(_("Put no user name or password in the address."))
        try:
            webhooks.check_url(url)
        except AddressRefused:
            raise forms.ValidationError(
                _(
                    "Webhooks go to public addresses only, not to this server's network "
                    "(an operator can allow internal receivers in WEBHOOK_TRUSTED_URLS)."
                )
            ) from None
        return url

    def clean(self) -> dict[str, Any]:
        return super().clean() or {}
