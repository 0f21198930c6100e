"""Forms of the operators' admin actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class TopUpForm(forms.Form):
    amount_cny = forms.DecimalField(
        label=_("Extra CNY this month"),
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        initial=Decimal("0"),
    )
    seconds = forms.IntegerField(label=_("Extra video seconds this month"), min_value=0, initial=0)
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("amount_cny") and not data.get("seconds"):
            raise forms.ValidationError(_("Grant some CNY or some seconds."))
        return data


class SuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)
