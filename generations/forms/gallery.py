"""Gallery filters and share-link forms."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations.forms import set_choices
from generations.forms.values import parse_ids
from generations.jimeng import catalog
from generations.labels import mode_label
from generations.models import Generation, GenerationQuerySet, Membership, Status, Tag, Team

# Steps inside sending a job upstream, that the gallery's filter counts as Submitted.
SENDING = (Status.SUBMITTING, Status.CHECKING)

# Days the filters take: a year 1 or 9999 overflowed turning into times (a 500).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


class DayField(forms.DateField):
    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and not FIRST_DAY <= value <= LAST_DAY:
            raise forms.ValidationError(
                _("Choose a day between %(first)s and %(last)s.")
                % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}
            )


DAY_INPUT = forms.DateInput(attrs={"type": "date"})


class GalleryFilterForm(forms.Form):
    q = forms.CharField(label=_("Prompt contains"), required=False, max_length=200)
    mode = forms.ChoiceField(label=_("Mode"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    author = forms.ChoiceField(label=_("Author"), required=False)
    since = DayField(label=_("From"), required=False, widget=DAY_INPUT)
    until = DayField(label=_("To"), required=False, widget=DAY_INPUT)
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    favourites = forms.BooleanField(label=_("My favourites"), required=False)
    # The variants of one submit (linked from a tile; not a visible filter).
    batch = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)

    def __init__(self, *args: Any, team: Team, user_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.user_id = user_id
        tags = [(tag.name, tag.name) for tag in Tag.objects.filter(team=team)]
        set_choices(self, "tag", [("", _("Any")), *tags])
        if user_id is None:
            del self.fields["favourites"]
        modes = [(name, mode_label(name)) for name in catalog.MODES]
        set_choices(self, "mode", [("", _("All modes")), *modes])
        # Every state is accepted (the API filters by any it documents), but the page
        # offers the ones a person tells apart: "Submitted" stands for the steps of sending.
        set_choices(self, "status", [("", _("All")), *Status.choices])
        shown = [(s.value, s.label) for s in Status if s not in SENDING]
        self.fields["status"].widget.choices = [("", _("All")), *shown]
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

    def jobs(self) -> GenerationQuerySet:
        """The team's jobs these filters pick (all of them when the filters are invalid;
        the page shows the errors)."""
        jobs = Generation.objects.for_team(self.team)
        if not self.is_valid():
            return jobs
        data = self.cleaned_data
        if data["q"]:
            jobs = jobs.filter(prompt__icontains=data["q"])
        if data["mode"]:
            jobs = jobs.filter(mode=data["mode"])
        if data["status"] == Status.SUBMITTED:
            jobs = jobs.filter(status__in=(*SENDING, Status.SUBMITTED))
        elif data["status"]:
            jobs = jobs.filter(status=data["status"])
        if data["author"]:
            jobs = jobs.filter(created_by_id=int(data["author"]))
        zone = timezone.get_current_timezone()
        if data["since"]:
            jobs = jobs.filter(created_at__gte=datetime.combine(data["since"], time.min, zone))
        if data["until"]:
            next_day = datetime.combine(data["until"] + timedelta(days=1), time.min, zone)
            jobs = jobs.filter(created_at__lt=next_day)
        if data.get("tag"):
            jobs = jobs.filter(tags__name=data["tag"])
        if data.get("favourites") and self.user_id is not None:
            jobs = jobs.filter(favourite_of__id=self.user_id)
        if data.get("batch"):
            jobs = jobs.filter(batch=data["batch"])
        return jobs

    @property
    def needs_jobs(self) -> bool:
        """Whether the totals need the jobs themselves (the kept counters cannot filter
        by prompt text, tag, favourite or batch)."""
        data = self.cleaned_data if self.is_valid() else {}
        return any(data.get(name) for name in ("q", "tag", "favourites", "batch"))


class IdListField(forms.Field):
    widget = forms.MultipleHiddenInput

    default_error_messages = {"invalid": _("Those are not video numbers.")}

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        ids = parse_ids(",".join(str(v) for v in values), limit=50)
        if ids is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return ids

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
