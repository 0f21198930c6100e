"""The one form that saves upstream keys, for the team's Keys page and the admin."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from generations.forms import set_choices
from generations.jimeng.addresses import AddressRefused, has_dot_segment
from generations.jimeng.client import DEFAULT_ARK_URL, DEFAULT_ENDPOINT
from generations.models import Credential, CredentialKind, address_rules, allowed_hosts_text


def check_endpoint(value: str) -> str:
    """An API address keys may be sent to: http(s), no credentials in it, and a host the
    address rules allow (docs/security.md)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise forms.ValidationError(_("Enter an http:// or https:// address."))
    if parts.username or parts.password:
        raise forms.ValidationError(_("Put keys in the key fields, not in the address."))
    if parts.query or parts.fragment or "#" in value or "?" in value:
        raise forms.ValidationError(_("Enter the API's base address, without ? or #."))
    if has_dot_segment(parts.path):
        raise forms.ValidationError(_("The address may not contain . or .. path segments."))
    try:
        address_rules().check_api_url(value)
    except AddressRefused:
        raise forms.ValidationError(
            _(
                "Keys can only be sent to the official API hosts or to hosts the operator "
                "allowed: %(hosts)s."
            )
            % {"hosts": allowed_hosts_text()}
        ) from None
    return value.strip()


class CredentialForm(forms.ModelForm):  # type: ignore[type-arg]
    """The one way keys are saved, from the team's Keys page and from the admin.

    Secrets are write-only: a saved secret is never rendered back into the form. Moving
    a key to another address or kind needs the secret typed again, so nobody can send a
    stored key somewhere new without knowing it.
    """

    access_key = forms.CharField(
        label=_("Access key ID (AK)"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    secret = forms.CharField(
        label=_("Secret access key (SK) or Bearer key"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    endpoint = forms.CharField(label=_("Endpoint"), max_length=300, required=False)

    class Meta:
        model = Credential
        fields = ("kind", "label", "endpoint", "max_qps", "is_default")
        widgets = {"kind": forms.RadioSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = self.instance.pk is not None
        if "kind" in self.fields:
            # One of the three, never "---------"; a new key starts as a Volcengine one.
            set_choices(self, "kind", CredentialKind.choices)
            if not self.editing and not self.initial.get("kind"):
                self.initial["kind"] = CredentialKind.VOLCENGINE
        if self.editing:
            if "kind" in self.fields and self.lock_kind:
                self.fields["kind"].disabled = True
            keep = _("Leave empty to keep the saved key (not when the endpoint changes).")
            self.fields["secret"].help_text = keep
            self.fields["access_key"].help_text = keep
        self.fields["endpoint"].help_text = _(
            "Volcengine: %(default)s (the default). Ark: %(ark)s (the default). "
            "Gateway: its base URL."
        ) % {"default": DEFAULT_ENDPOINT, "ark": DEFAULT_ARK_URL}
        self.fields["max_qps"].widget.attrs.update({"min": "0.1", "step": "0.1"})

    lock_kind = True

    def clean_endpoint(self) -> str:
        value = self.cleaned_data.get("endpoint", "").strip()
        kind = self.cleaned_data.get("kind") or self.instance.kind
        if not value:
            if kind == CredentialKind.GATEWAY:
                raise forms.ValidationError(_("A gateway needs its base URL."))
            return DEFAULT_ARK_URL if kind == CredentialKind.ARK else DEFAULT_ENDPOINT
        return check_endpoint(value)

    def clean_max_qps(self) -> float | None:
        value = self.cleaned_data.get("max_qps")
        if value is not None and value <= 0:
            raise forms.ValidationError(_("Use a number above 0, or leave it empty."))
        return value

    def _moves_the_key(self) -> bool:
        return self.editing and bool({"endpoint", "kind"} & set(self.changed_data))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind") or self.instance.kind
        access_key = (data.get("access_key") or "").strip()
        secret = (data.get("secret") or "").strip()
        data["access_key"], data["secret"] = access_key, secret
        moved = self._moves_the_key()
        if (not self.editing or moved or access_key) and not secret:
            self.add_error(
                "secret",
                _("The endpoint or kind changed: enter the key again to use it there.")
                if moved
                else _("Enter the secret key."),
            )
        if (not self.editing or secret) and kind == CredentialKind.VOLCENGINE and not access_key:
            self.add_error("access_key", _("Enter the access key ID."))
        if kind in (CredentialKind.GATEWAY, CredentialKind.ARK) and access_key:
            self.add_error(
                "access_key", _("This kind of key has no access key ID; leave it empty.")
            )
        return data

    def save(self, commit: bool = True) -> Credential:
        credential: Credential = super().save(commit=False)
        secret = self.cleaned_data["secret"]
        if secret:
            credential.set_secrets(access_key=self.cleaned_data["access_key"], secret=secret)
        if commit:
            credential.save()
        return credential
