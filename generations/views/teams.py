"""Teams: create, overview with spend, members and roles, invitations."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from generations.access import (
    CURRENT_TEAM,
    TeamAccess,
    public_view,
    signed_in_user,
    signed_in_view,
    team_view,
)
from generations.errors import Refused
from generations.forms.teams import BudgetForm, InviteForm, RoleForm, TeamForm
from generations.models import Invitation, Membership, Role
from generations.services import invitations, ledger, teams
from generations.services.reports import spend_by_day


@public_view
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    memberships = Membership.objects.filter(user_id=request.user.pk).select_related("team")
    current = request.session.get(CURRENT_TEAM)
    slugs = [m.team.slug for m in memberships]
    if not slugs:
        return redirect("team-list")
    return redirect("studio", slug=current if current in slugs else slugs[0])


@signed_in_view
def team_list(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = teams.create_team(name=form.cleaned_data["name"], owner=request.user)
        messages.success(
            request, _("Team %(name)s created. Add an upstream key to start.") % {"name": team.name}
        )
        return redirect("credential-list", slug=team.slug)
    memberships = Membership.objects.filter(user=signed_in_user(request)).select_related("team")
    return render(request, "teams/list.html", {"form": form, "memberships": memberships})


@team_view(Role.VIEWER)
def team_detail(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    team = access.team
    usage = team.usage()
    members = team.memberships.select_related("user").order_by("user__username")
    spend = ledger.member_spend(team, usage.period)
    context = {
        "access": access,
        "team": team,
        "usage": usage,
        "days": spend_by_day(team, usage.period),
        "members": [
            # One role form per member: ids of their own, apart from the invite form's.
            (
                m,
                RoleForm(
                    manager_role=access.role, initial={"role": m.role}, auto_id=f"member-{m.pk}-%s"
                ),
                spend.get(m.user_id, ledger.MemberSpend()),
            )
            for m in members
        ],
        "invitations": team.invitations.pending() if access.can_manage else [],
        "invite_form": InviteForm(manager_role=access.role) if access.can_manage else None,
        "new_invitation_url": request.session.pop("new_invitation_url", None),
    }
    return render(request, "teams/detail.html", context)


def _refusal(request: HttpRequest, error: Refused) -> None:
    messages.error(request, str(error))


@require_POST
@team_view(Role.ADMIN)
def member_budget(request: HttpRequest, access: TeamAccess, member_id: int) -> HttpResponse:
    """A member's monthly budget under the team's quota; empty for none."""
    member = get_object_or_404(Membership, pk=member_id, team=access.team)
    form = BudgetForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for e in form.errors.get("monthly_budget_cny", [])))
    else:
        member.monthly_budget_cny = form.cleaned_data["monthly_budget_cny"]
        member.save(update_fields=["monthly_budget_cny"])
        if member.monthly_budget_cny is None:
            text = _("%(user)s has no budget of their own now.")
        else:
            text = _("%(user)s may spend %(amount)s CNY a month.")
        messages.success(
            request,
            text % {"user": member.user.get_username(), "amount": member.monthly_budget_cny},
        )
    return redirect("team-detail", slug=access.team.slug)


@require_POST
@team_view(Role.ADMIN)
def member_role(request: HttpRequest, access: TeamAccess, member_id: int) -> HttpResponse:
    member = get_object_or_404(Membership, pk=member_id, team=access.team)
    form = RoleForm(request.POST, manager_role=access.role)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
    else:
        try:
            teams.change_role(
                actor=access.membership, member=member, role=form.cleaned_data["role"]
            )
            messages.success(
                request,
                _("%(user)s is now %(role)s.")
                % {
                    "user": member.user.get_username(),
                    "role": Role(form.cleaned_data["role"]).label,
                },
            )
        except Refused as error:
            _refusal(request, error)
    return redirect("team-detail", slug=access.team.slug)


@require_POST
@team_view(Role.ADMIN)
def member_remove(request: HttpRequest, access: TeamAccess, member_id: int) -> HttpResponse:
    member = get_object_or_404(Membership, pk=member_id, team=access.team)
    try:
        teams.remove_member(actor=access.membership, member=member)
        messages.success(
            request, _("%(user)s was removed from the team.") % {"user": member.user.get_username()}
        )
    except Refused as error:
        _refusal(request, error)
    if member.pk == access.membership.pk and not Membership.objects.filter(pk=member.pk).exists():
        return redirect("team-list")
    return redirect("team-detail", slug=access.team.slug)


@require_POST
@team_view(Role.VIEWER)
def team_leave(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    try:
        teams.leave_team(member=access.membership)
    except Refused as error:
        _refusal(request, error)
        return redirect("team-detail", slug=access.team.slug)
    request.session.pop(CURRENT_TEAM, None)
    messages.success(request, _("You left %(team)s.") % {"team": access.team.name})
    return redirect("team-list")


@require_POST
@team_view(Role.ADMIN)
def invitation_create(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    form = InviteForm(request.POST, manager_role=access.role)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role for the invitation."))
        return redirect("team-detail", slug=access.team.slug)
    try:
        invitation, token = invitations.invite(
            actor=access.membership,
            role=form.cleaned_data["role"],
            email=form.cleaned_data["email"],
        )
    except Refused as error:
        _refusal(request, error)
        return redirect("team-detail", slug=access.team.slug)
    url = request.build_absolute_uri(reverse("invitation-accept", args=[token]))
    if invitation.email:
        invitations.send_invitation(invitation=invitation, url=url)
    # Shown once on the next page: only a hash of the token is stored.
    request.session["new_invitation_url"] = url
    return redirect("team-detail", slug=access.team.slug)


@require_POST
@team_view(Role.ADMIN)
def invitation_revoke(request: HttpRequest, access: TeamAccess, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, team=access.team)
    if invitation.revoke():
        messages.success(request, _("Invitation revoked."))
    return redirect("team-detail", slug=access.team.slug)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The page an invitation link opens. Someone signed out sees which team invites
    them and signs in or up from here, the invitation carried through both."""
    invitation = Invitation.find(token)
    if invitation is None:
        return render(
            request,
            "teams/invitation.html",
            {"problem": _("This invitation link is not valid.")},
            status=404,
        )
    if not request.user.is_authenticated and request.method == "POST":
        return redirect_to_login(request.path)
    if request.method == "POST":
        try:
            invitations.accept_invitation(invitation=invitation, user=request.user)
        except Refused as error:
            return render(
                request,
                "teams/invitation.html",
                {"invitation": invitation, "problem": str(error)},
                status=409,
            )
        messages.success(request, _("Welcome to %(team)s.") % {"team": invitation.team.name})
        return redirect("studio", slug=invitation.team.slug)
    problem = (
        None if invitation.state == "pending" else invitations.invitation_problem(invitation.state)
    )
    status = 200 if problem is None else 410
    context = {"invitation": invitation, "problem": problem, "next": request.path}
    return render(request, "teams/invitation.html", context, status=status)


# Anyone with the link may see whose invitation it is; accepting takes an account.
invitation_accept.required_role = None  # type: ignore[attr-defined]
invitation_accept.post_role = "signed_in"  # type: ignore[attr-defined]
