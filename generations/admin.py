"""The operators' admin: quotas and usage, members, masked keys, the read-only ledger,
prices and jobs, with actions for top-ups, suspension and the sweeper."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from generations.forms.keys import CredentialForm
from generations.forms.operators import SuspendForm, TopUpForm
from generations.models import (
    Credential,
    Generation,
    LedgerEntry,
    Membership,
    Price,
    Status,
    Team,
)
from generations.services import ledger, pipeline
from generations.tasks import sweep


def _run_sweeper(modeladmin: admin.ModelAdmin, request: HttpRequest) -> None:
    report = sweep()
    modeladmin.message_user(request, gettext("Sweeper ran: %(report)s") % {"report": report})


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class CredentialInline(admin.TabularInline):
    model = Credential
    extra = 0
    can_delete = False
    fields = ("label", "kind", "endpoint", "masked_keys", "is_default", "last_test_ok")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("keys"))
    def masked_keys(self, credential: Credential) -> str:
        return _masked(credential)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _masked(credential: Credential) -> str:
    parts = [f"AK {credential.masked_access_key()}"] if credential.access_key_encrypted else []
    return " · ".join([*parts, f"secret {credential.masked_secret()}"])


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "quota_cny",
        "quota_seconds",
        "month_spent",
        "month_reserved",
        "month_left",
        "suspended",
    )
    search_fields = ("name", "slug")
    fields = (
        "name",
        "slug",
        "quota_cny",
        "quota_seconds",
        "suspended_at",
        "suspended_reason",
        "created_at",
    )
    readonly_fields = ("created_at", "suspended_at")
    inlines = (MembershipInline, CredentialInline)
    actions = ("grant_topup", "suspend", "unsuspend", "run_sweeper")

    @admin.display(description=_("spent this month"))
    def month_spent(self, team: Team) -> str:
        usage = team.usage()
        return f"{usage.spent_cny} ¥ / {usage.spent_seconds} s"

    @admin.display(description=_("reserved now"))
    def month_reserved(self, team: Team) -> str:
        usage = team.usage()
        return f"{usage.reserved_cny} ¥ / {usage.reserved_seconds} s"

    @admin.display(description=_("left"))
    def month_left(self, team: Team) -> str:
        usage = team.usage()
        cny = "∞" if usage.left_cny is None else f"{usage.left_cny} ¥"
        seconds = "∞" if usage.left_seconds is None else f"{usage.left_seconds} s"
        return f"{cny} / {seconds}"

    @admin.display(description=_("suspended"), boolean=True)
    def suspended(self, team: Team) -> bool:
        return team.is_suspended

    def _form_action(
        self,
        request: HttpRequest,
        queryset: QuerySet[Team],
        form_class: type[forms.Form],
        action: str,
        title: str,
    ) -> forms.Form | HttpResponse:
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            return form
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "queryset": queryset,
            "action": action,
            "opts": self.model._meta,
        }
        return render(request, "admin/generations/team/action_form.html", context)

    @admin.action(description=_("Grant a one-off quota top-up"))
    def grant_topup(self, request: HttpRequest, queryset: QuerySet[Team]) -> HttpResponse | None:
        result = self._form_action(
            request, queryset, TopUpForm, "grant_topup", gettext("Grant a top-up")
        )
        if isinstance(result, HttpResponse):
            return result
        for team in queryset:
            ledger.grant_topup(
                team=team,
                amount_cny=result.cleaned_data["amount_cny"],
                seconds=result.cleaned_data["seconds"],
                reason=result.cleaned_data["reason"],
                user=request.user,
            )
        self.message_user(
            request, gettext("Top-up granted to %(count)d team(s).") % {"count": len(queryset)}
        )
        return None

    @admin.action(description=_("Suspend (no new jobs)"))
    def suspend(self, request: HttpRequest, queryset: QuerySet[Team]) -> HttpResponse | None:
        result = self._form_action(
            request, queryset, SuspendForm, "suspend", gettext("Suspend teams")
        )
        if isinstance(result, HttpResponse):
            return result
        for team in queryset:
            team.suspend(result.cleaned_data["reason"])
        self.message_user(
            request, gettext("%(count)d team(s) suspended.") % {"count": len(queryset)}
        )
        return None

    @admin.action(description=_("Lift suspension"))
    def unsuspend(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        for team in queryset:
            team.unsuspend()
        self.message_user(
            request, gettext("%(count)d team(s) may submit again.") % {"count": len(queryset)}
        )

    @admin.action(description=_("Re-run the sweeper now"))
    def run_sweeper(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        _run_sweeper(self, request)


class CredentialAdminForm(CredentialForm):
    """The team's credential form with the team to choose: one save path for keys."""

    lock_kind = False

    class Meta(CredentialForm.Meta):
        fields = ("team", "kind", "label", "endpoint", "max_qps")
        widgets: dict[str, Any] = {}


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialAdminForm
    list_display = (
        "label",
        "team",
        "kind",
        "endpoint",
        "masked_keys",
        "is_default",
        "last_test_ok",
    )
    list_filter = ("kind",)
    search_fields = ("label", "team__name")
    readonly_fields = (
        "masked_keys",
        "is_default",
        "last_tested_at",
        "last_test_ok",
        "last_test_message",
    )

    @admin.display(description=_("keys"))
    def masked_keys(self, credential: Credential) -> str:
        return _masked(credential) if credential.pk else ""


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    # Short columns, so that all of them fit a laptop's width (1366 px) beside the filters:
    # the job as "#id", the reason cut (whole in its tooltip and on the entry's page).
    list_display = (
        "when",
        "team",
        "kind",
        "amount_cny",
        "reserved_cny",
        "seconds",
        "period",
        "job",
        "short_reason",
        "created_by",
    )
    list_filter = ("kind", "period")
    search_fields = ("team__name", "reason")
    list_select_related = ("team", "generation", "created_by")
    date_hierarchy = "created_at"

    @admin.display(description=_("At"), ordering="created_at")
    def when(self, entry: LedgerEntry) -> str:
        return timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description=_("Generation"), ordering="generation_id")
    def job(self, entry: LedgerEntry) -> str:
        return f"#{entry.generation_id}" if entry.generation_id else "—"

    @admin.display(description=_("Reason"))
    def short_reason(self, entry: LedgerEntry) -> str:
        if len(entry.reason) <= 40:
            return entry.reason
        return format_html('<span title="{}">{}…</span>', entry.reason, entry.reason[:40])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = (
        "key",
        "cny_per_second",
        "cny_per_million_tokens",
        "is_estimate",
        "retires_on",
        "updated_at",
    )
    list_editable = ("cny_per_second", "cny_per_million_tokens", "is_estimate", "retires_on")
    list_filter = (("retires_on", admin.EmptyFieldListFilter),)
    search_fields = ("key",)
    actions = ("retire_today", "unretire")

    @admin.action(description=_("Retire the selected models today (new jobs only)"))
    def retire_today(self, request: HttpRequest, queryset: QuerySet[Price]) -> None:
        count = queryset.update(retires_on=timezone.localdate())
        self.message_user(request, gettext("%(n)s model(s) retired today.") % {"n": count})

    @admin.action(description=_("Offer the selected models again"))
    def unretire(self, request: HttpRequest, queryset: QuerySet[Price]) -> None:
        count = queryset.update(retires_on=None)
        self.message_user(request, gettext("%(n)s model(s) offered again.") % {"n": count})


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "team",
        "mode_label",
        "status",
        "short_prompt",
        "seconds",
        "cost_cny",
        "created_by",
        "created_at",
        "failure_code",
    )
    list_filter = ("status", "mode")
    search_fields = ("prompt", "upstream_task_id", "team__name")
    list_select_related = ("team", "created_by")
    date_hierarchy = "created_at"
    actions = ("requeue", "cancel_queued", "run_sweeper")
    readonly_fields = [f.name for f in Generation._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("mode"), ordering="mode")
    def mode_label(self, generation: Generation) -> str:
        return generation.mode_label

    @admin.display(description=_("prompt"))
    def short_prompt(self, generation: Generation) -> str:
        return generation.prompt[:60] + ("…" if len(generation.prompt) > 60 else "")

    @admin.action(description=_("Requeue: poll or retry the next step now"))
    def requeue(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        count = sum(pipeline.requeue(generation) for generation in queryset)
        self.message_user(request, gettext("%(count)d job(s) requeued.") % {"count": count})

    @admin.action(description=_("Cancel jobs not yet submitted"))
    def cancel_queued(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        count = sum(
            pipeline.cancel(generation) for generation in queryset.filter(status=Status.QUEUED)
        )
        level = messages.SUCCESS if count else messages.WARNING
        self.message_user(request, gettext("%(count)d job(s) cancelled.") % {"count": count}, level)

    @admin.action(description=_("Re-run the sweeper now"))
    def run_sweeper(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        _run_sweeper(self, request)


admin.site.site_header = _("Jimeng Studio operators")
# The admin's side menu took 300 px of every list (the ledger's last columns scrolled out
# of sight at 1366 px); the breadcrumbs and the index lead everywhere it did.
admin.site.enable_nav_sidebar = False
admin.site.site_title = _("Jimeng Studio")
