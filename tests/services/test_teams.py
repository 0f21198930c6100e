"""Teams, roles and invitations: who may do what, and the last-owner rule."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generations.errors import Refused
from generations.models import Invitation, Membership, Role, Team
from generations.services import teams
from tests.cast import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _member(cast, role: str) -> Membership:
    return Membership.objects.get(team=cast.team, user=cast.users[role])


def test_creating_a_team_makes_you_its_owner(cast) -> None:
    client = cast.client("viewer")
    response = client.post(reverse("team-list"), {"name": "My 新团队"})
    team = Team.objects.get(name="My 新团队")
    assert response.status_code == 302 and team.slug.startswith("my")
    assert Membership.objects.get(team=team, user=cast.viewer).role == Role.OWNER


def test_current_team_is_shown_on_every_page_and_switches(cast) -> None:
    Membership.objects.create(team=cast.other_team, user=cast.member, role=Role.VIEWER)
    client = cast.client("member")
    page = client.get(reverse("team-detail", args=["team-b"])).content.decode()
    assert 'data-testid="current-team">Team B<' in page
    page = client.get(reverse("team-list")).content.decode()
    assert 'data-testid="current-team">Team B<' in page  # remembered across pages
    client.get(reverse("team-detail", args=["team-a"]))
    assert client.get(reverse("home"))["Location"] == reverse("studio", args=["team-a"])


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("admin", 200), ("member", 200), ("viewer", 200), ("outsider", 404)],
)
def test_team_page_access(cast, role: str, status: int) -> None:
    assert cast.client(role).get(reverse("team-detail", args=["team-a"])).status_code == status


def test_anonymous_visitors_are_sent_to_sign_in(cast) -> None:
    response = Client().get(reverse("team-detail", args=["team-a"]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 302), ("admin", 302), ("member", 403), ("viewer", 403), ("outsider", 404)],
)
def test_inviting_needs_admin(cast, role: str, status: int) -> None:
    response = cast.client(role).post(
        reverse("invitation-create", args=["team-a"]), {"role": "member"}
    )
    assert response.status_code == status
    assert Invitation.objects.count() == (1 if status == 302 else 0)


def _invite(cast, role: str = "member", by: str = "owner") -> str:
    client = cast.client(by)
    client.post(
        reverse("invitation-create", args=["team-a"]), {"role": role, "email": "new@example.com"}
    )
    page = client.get(reverse("team-detail", args=["team-a"])).content.decode()
    return re.search(r'value="http://testserver(/invite/[^"]+)"', page).group(1)


def test_invitation_link_is_shown_once_and_mailed(cast, mailoutbox) -> None:
    path = _invite(cast)
    assert len(mailoutbox) == 1 and path in mailoutbox[0].body
    again = cast.client("owner").get(reverse("team-detail", args=["team-a"])).content.decode()
    assert path not in again


def test_accepting_an_invitation_joins_with_its_role(cast) -> None:
    path = _invite(cast, role="viewer")
    newcomer = make_user("newcomer")
    client = Client()
    client.force_login(newcomer)
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302
    assert Membership.objects.get(team=cast.team, user=newcomer).role == Role.VIEWER


def test_an_invitation_works_once(cast) -> None:
    path = _invite(cast)
    first, second = make_user("first"), make_user("second")
    for user in (first, second):
        client = Client()
        client.force_login(user)
        response = client.post(path)
    assert Membership.objects.filter(team=cast.team, user=first).exists()
    assert not Membership.objects.filter(team=cast.team, user=second).exists()
    assert response.status_code == 409 and "already been used" in response.content.decode()


def test_an_expired_invitation_is_refused(cast) -> None:
    path = _invite(cast)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client = Client()
    client.force_login(make_user("late"))
    assert client.get(path).status_code == 410
    response = client.post(path)
    assert response.status_code == 409 and "expired" in response.content.decode()
    assert not Membership.objects.filter(team=cast.team, user__username="late").exists()


def test_a_revoked_invitation_is_refused(cast) -> None:
    path = _invite(cast)
    invitation = Invitation.objects.get()
    assert (
        cast.client("member")
        .post(reverse("invitation-revoke", args=["team-a", invitation.pk]))
        .status_code
        == 403
    )
    cast.client("admin").post(reverse("invitation-revoke", args=["team-a", invitation.pk]))
    client = Client()
    client.force_login(make_user("late"))
    response = client.post(path)
    assert response.status_code == 409 and "revoked" in response.content.decode()


def test_an_unknown_invitation_token_is_404(cast) -> None:
    assert (
        cast.client("outsider").get(reverse("invitation-accept", args=["nope"])).status_code == 404
    )


def test_admins_cannot_invite_or_make_owners(cast) -> None:
    cast.client("admin").post(reverse("invitation-create", args=["team-a"]), {"role": "owner"})
    assert not Invitation.objects.exists()
    member = _member(cast, "member")
    cast.client("admin").post(reverse("member-role", args=["team-a", member.pk]), {"role": "owner"})
    member.refresh_from_db()
    assert member.role == Role.MEMBER


def test_admin_changes_roles_and_removes_members(cast) -> None:
    viewer = _member(cast, "viewer")
    client = cast.client("admin")
    client.post(reverse("member-role", args=["team-a", viewer.pk]), {"role": "member"})
    viewer.refresh_from_db()
    assert viewer.role == Role.MEMBER
    client.post(reverse("member-remove", args=["team-a", viewer.pk]))
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_members_cannot_manage(cast) -> None:
    viewer = _member(cast, "viewer")
    assert (
        cast.client("member")
        .post(reverse("member-role", args=["team-a", viewer.pk]), {"role": "admin"})
        .status_code
        == 403
    )
    assert (
        cast.client("viewer").post(reverse("member-remove", args=["team-a", viewer.pk])).status_code
        == 403
    )
    assert (
        cast.client("outsider")
        .post(reverse("member-remove", args=["team-a", viewer.pk]))
        .status_code
        == 404
    )


def test_other_teams_members_are_not_reachable(cast) -> None:
    outsider = Membership.objects.get(team=cast.other_team)
    response = cast.client("owner").post(reverse("member-remove", args=["team-a", outsider.pk]))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=outsider.pk).exists()


def test_last_owner_cannot_be_demoted_removed_or_leave(cast) -> None:
    owner = _member(cast, "owner")
    client = cast.client("owner")
    client.post(reverse("member-role", args=["team-a", owner.pk]), {"role": "admin"})
    owner.refresh_from_db()
    assert owner.role == Role.OWNER
    response = client.post(reverse("team-leave", args=["team-a"]), follow=True)
    assert "last owner" in response.content.decode()
    assert Membership.objects.filter(pk=owner.pk).exists()
    with pytest.raises(Refused):
        teams.remove_member(actor=owner, member=owner)


def test_with_two_owners_one_may_leave(cast) -> None:
    admin = _member(cast, "admin")
    teams.change_role(actor=_member(cast, "owner"), member=admin, role=Role.OWNER)
    cast.client("owner").post(reverse("team-leave", args=["team-a"]))
    assert not Membership.objects.filter(team=cast.team, user=cast.owner).exists()
    admin.refresh_from_db()
    with pytest.raises(Refused, match="last owner"):
        teams.leave_team(member=admin)


def test_viewer_may_leave(cast) -> None:
    response = cast.client("viewer").post(reverse("team-leave", args=["team-a"]))
    assert response.status_code == 302
    assert not Membership.objects.filter(team=cast.team, user=cast.viewer).exists()


# --- invitations for people who are signed out -----------------------------------------

NEW_PASSWORD = "a-long-enough-pass-phrase-42"


def _links(page: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', page)]


def test_a_signed_out_visitor_sees_which_team_invites_them(cast) -> None:
    path = _invite(cast, role="viewer")
    response = Client().get(path)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Join Team A" in page and "as Viewer" in page
    carried = f"?next={path}"
    links = _links(page)
    # The card's buttons and the top bar's both carry the invitation.
    assert links.count(f"/accounts/signup/{carried}") == 2
    assert links.count(f"/accounts/login/{carried}") == 2
    assert "Accept invitation" not in page


def test_a_signed_out_post_joins_nobody_and_asks_to_sign_in(cast) -> None:
    path = _invite(cast)
    response = Client().post(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Membership.objects.filter(team=cast.team).count() == 4


def test_signing_up_from_an_invitation_joins_the_team_at_once(cast) -> None:
    path = _invite(cast, role="member")
    client = Client()
    form = client.get(reverse("signup"), {"next": path}).content.decode()
    assert "You are invited to Team A as Member" in form
    assert f'name="next" value="{path}"' in form
    response = client.post(
        reverse("signup"),
        {
            "username": "invitee",
            "email": "invitee@example.com",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "next": path,
        },
    )
    # No second click on "Accept invitation": the new account is in the team already.
    assert response.status_code == 302 and response["Location"] == "/t/team-a/"
    assert Membership.objects.get(team=cast.team, user__username="invitee").role == Role.MEMBER
    studio = client.get(response["Location"]).content.decode()
    assert "Welcome to Team A." in studio
    # The link has done its work.
    assert "already been used" in client.get(path).content.decode()


def test_signing_up_from_a_used_invitation_makes_the_account_and_says_why(cast) -> None:
    path = _invite(cast, role="member")
    first = Client()
    first.force_login(make_user("quick"))
    first.post(path)
    client = Client()
    response = client.post(
        reverse("signup"),
        {"username": "late", "email": "late@example.com", "password1": NEW_PASSWORD,
         "password2": NEW_PASSWORD, "next": path},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == path
    assert not Membership.objects.filter(user__username="late").exists()
    assert "already been used" in client.get(path).content.decode()


def test_signing_in_from_an_invitation_comes_back_to_it(cast) -> None:
    path = _invite(cast)
    make_user("returning")
    client = Client()
    login = client.get(reverse("login"), {"next": path}).content.decode()
    assert "You are invited to Team A" in login
    assert f"/accounts/signup/?next={path}" in _links(login)
    response = client.post(
        reverse("login"), {"username": "returning", "password": PASSWORD, "next": path}
    )
    assert response.status_code == 302 and response["Location"] == path


def test_no_invitation_is_named_for_other_or_spent_links(cast) -> None:
    client = Client()
    plain = client.get(reverse("login"), {"next": "/teams/"}).content.decode()
    unknown = client.get(reverse("login"), {"next": "/invite/nope/"}).content.decode()
    assert "You are invited" not in plain and "You are invited" not in unknown
    path = _invite(cast)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert "You are invited" not in client.get(reverse("signup"), {"next": path}).content.decode()
    assert Client().get(path).status_code == 410
