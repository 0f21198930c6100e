"""Team, invitation and role forms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from generations.forms import set_choices
from generations.models import Role


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=80)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the team a name."))
        return name


def _role_choices(manager_role: str) -> list[tuple[str, Any]]:
    roles = [Role.ADMIN, Role.MEMBER, Role.VIEWER]
    if manager_role == Role.OWNER:
        roles.insert(0, Role.OWNER)
    return [(role.value, role.label) for role in roles]


class InviteForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))
    email = forms.EmailField(label=_("Email (optional)"), required=False)

    def __init__(self, *args: Any, manager_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "role", _role_choices(manager_role))
        self.fields["role"].initial = Role.MEMBER


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args: Any, manager_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "role", _role_choices(manager_role))


class BudgetForm(forms.Form):
    monthly_budget_cny = forms.DecimalField(
        label=_("Monthly budget (CNY)"),
        required=False,
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
        error_messages={"invalid": _("Enter the budget in CNY, such as 50 or 12.50.")},
    )
