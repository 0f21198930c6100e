"""A team's upstream credentials: add, edit, test, make default, delete. Admins only."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from generations.access import TeamAccess, team_view
from generations.forms.keys import CredentialForm
from generations.models import Credential, Role
from generations.services import keys


@team_view(Role.ADMIN)
def credential_list(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    credentials = access.team.credentials.all()
    return render(request, "credentials/list.html", {"access": access, "credentials": credentials})


@sensitive_post_parameters("access_key", "secret")
@team_view(Role.ADMIN)
def credential_create(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    credential = Credential(team=access.team, created_by_id=request.user.pk)
    return _edit(request, access, credential, created=True)


@sensitive_post_parameters("access_key", "secret")
@team_view(Role.ADMIN)
def credential_edit(request: HttpRequest, access: TeamAccess, credential_id: int) -> HttpResponse:
    credential = get_object_or_404(Credential, pk=credential_id, team=access.team)
    return _edit(request, access, credential, created=False)


def _edit(
    request: HttpRequest, access: TeamAccess, credential: Credential, *, created: bool
) -> HttpResponse:
    form = CredentialForm(request.POST or None, instance=credential)
    if request.method == "POST" and form.is_valid():
        wants_default = form.cleaned_data["is_default"] or not access.team.credentials.exists()
        credential = form.save(commit=False)
        credential.is_default = False
        credential.save()
        if wants_default:
            keys.make_default(credential)
        messages.success(request, _("Key saved. Use “Test connection” to check it."))
        return redirect("credential-list", slug=access.team.slug)
    context = {"access": access, "form": form, "credential": credential, "created": created}
    return render(request, "credentials/form.html", context)


@require_POST
@team_view(Role.ADMIN)
def credential_test(request: HttpRequest, access: TeamAccess, credential_id: int) -> HttpResponse:
    credential = get_object_or_404(Credential, pk=credential_id, team=access.team)
    check = keys.check_connection(credential)
    (messages.success if check.ok else messages.error)(
        request, f"{credential.label}: {check.message}"
    )
    return redirect("credential-list", slug=access.team.slug)


@require_POST
@team_view(Role.ADMIN)
def credential_default(
    request: HttpRequest, access: TeamAccess, credential_id: int
) -> HttpResponse:
    credential = get_object_or_404(Credential, pk=credential_id, team=access.team)
    keys.make_default(credential)
    messages.success(
        request, _("%(label)s is now the team's default key.") % {"label": credential.label}
    )
    return redirect("credential-list", slug=access.team.slug)


@require_POST
@team_view(Role.ADMIN)
def credential_delete(request: HttpRequest, access: TeamAccess, credential_id: int) -> HttpResponse:
    credential = get_object_or_404(Credential, pk=credential_id, team=access.team)
    if credential.generations.active().exists():
        messages.error(
            request, _("Jobs are still running with this key; delete it when they finish.")
        )
    else:
        credential.delete()
        messages.success(request, _("Key deleted."))
    return redirect("credential-list", slug=access.team.slug)
