"""Gallery filters and share-link forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from generations.forms import set_choices
from generations.jimeng import catalog
from generations.models import Membership, Status, Team


class GalleryFilterForm(forms.Form):
    q = forms.CharField(label=_("Prompt contains"), required=False, max_length=200)
    mode = forms.ChoiceField(label=_("Mode"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    author = forms.ChoiceField(label=_("Author"), required=False)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        modes = [(m.name, m.label) for m in catalog.MODES.values()]
        set_choices(self, "mode", [("", _("All modes")), *modes])
        set_choices(self, "status", [("", _("All")), *Status.choices])
        members = (
            Membership.objects.filter(team=team).select_related("user").order_by("user__username")
        )
        authors = [(str(m.user_id), m.user.get_username()) for m in members]
        set_choices(self, "author", [("", _("Anyone")), *authors])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return data


class IdListField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        return [int(v) for v in values if str(v).strip().isdigit()][:50]

    def validate(self, value: list[int]) -> None:
        if not value:
            raise forms.ValidationError(_("Choose at least one video."))


class ShareForm(forms.Form):
    generations = IdListField()
    title = forms.CharField(label=_("Title (optional)"), required=False, max_length=120)
    expires_in_days = forms.TypedChoiceField(
        label=_("Link expires"),
        coerce=int,
        required=False,
        empty_value=None,
        choices=[(0, _("Never")), (1, _("In 1 day")), (7, _("In 7 days")), (30, _("In 30 days"))],
    )

    def clean_expires_in_days(self) -> int:
        return self.cleaned_data.get("expires_in_days") or 0
