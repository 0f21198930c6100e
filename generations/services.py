"""Workflows that span rows or call the upstream: teams and roles, credentials, quota.

The generation pipeline (submit, poll, archive) lives in `pipeline.py`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from generations import gallery_totals
from generations.forms import Frame
from generations.jimeng import catalog
from generations.jimeng.client import TaskStatus
from generations.jimeng.errors import ErrorKind, JimengError
from generations.jimeng.payload import GenerationInput, build_body
from generations.models import (
    Credential,
    CredentialKind,
    EntryKind,
    Generation,
    GenerationImage,
    Invitation,
    LedgerEntry,
    Membership,
    Price,
    Role,
    ShareItem,
    ShareLink,
    Status,
    Team,
    Usage,
    month_start,
)

log = logging.getLogger(__name__)


class Refused(Exception):
    """A request that breaks a rule; the message is for the user, translated."""


# --- teams and roles ----------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:30] or "team"
    slug = base
    while Team.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def create_team(*, name: str, owner: Any) -> Team:
    with transaction.atomic():
        team = Team.objects.create(
            name=name,
            slug=_unique_slug(name),
            quota_cny=settings.DEFAULT_TEAM_QUOTA_CNY,
            quota_seconds=settings.DEFAULT_TEAM_QUOTA_SECONDS,
        )
        Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    return team


def _may_manage(actor: Membership, target_role: str, new_role: str | None = None) -> None:
    if actor.role not in (Role.OWNER, Role.ADMIN):
        raise Refused(_("Only owners and admins manage the team."))
    touches_owner = Role.OWNER in (target_role, new_role)
    if touches_owner and actor.role != Role.OWNER:
        raise Refused(_("Only an owner can make or change an owner."))


def _lock_owners(team: Team) -> int:
    """Count owners while holding their rows, so two demotions cannot both pass."""
    owners = Membership.objects.select_for_update().filter(team=team, role=Role.OWNER)
    return len(list(owners))


@transaction.atomic
def change_role(*, actor: Membership, member: Membership, role: str) -> None:
    _may_manage(actor, member.role, role)
    member = Membership.objects.select_for_update().get(pk=member.pk)
    if member.role == Role.OWNER and role != Role.OWNER and _lock_owners(member.team) <= 1:
        raise Refused(_("The last owner cannot be demoted. Make someone else an owner first."))
    member.role = role
    member.save(update_fields=["role"])


@transaction.atomic
def remove_member(*, actor: Membership, member: Membership) -> None:
    if actor.pk == member.pk:
        leave_team(member=member)
        return
    _may_manage(actor, member.role)
    member = Membership.objects.select_for_update().get(pk=member.pk)
    if member.role == Role.OWNER and _lock_owners(member.team) <= 1:
        raise Refused(_("The last owner cannot be removed."))
    member.delete()


@transaction.atomic
def leave_team(*, member: Membership) -> None:
    member = Membership.objects.select_for_update().get(pk=member.pk)
    if member.role == Role.OWNER and _lock_owners(member.team) <= 1:
        raise Refused(_("You are the last owner: make someone else an owner before you leave."))
    member.delete()


def invite(*, actor: Membership, role: str, email: str = "") -> tuple[Invitation, str]:
    _may_manage(actor, Role.VIEWER, role)
    return Invitation.issue(
        team=actor.team,
        role=role,
        created_by=actor.user,
        email=email,
        days=settings.INVITATION_DAYS,
    )


def accept_invitation(*, invitation: Invitation, user: Any) -> Membership:
    """Join the team with the invitation's role. The link works once, until it expires."""
    if invitation.state != "pending":
        raise Refused(invitation_problem(invitation.state))
    existing = Membership.objects.filter(team=invitation.team, user=user).first()
    if existing:
        raise Refused(_("You are already a member of %(team)s.") % {"team": invitation.team.name})
    with transaction.atomic():
        if not invitation.claim(user):
            raise Refused(_("This invitation has already been used."))
        try:
            return Membership.objects.create(team=invitation.team, user=user, role=invitation.role)
        except IntegrityError:
            raise Refused(
                _("You are already a member of %(team)s.") % {"team": invitation.team.name}
            ) from None


def send_invitation(*, invitation: Invitation, url: str) -> None:
    subject = _("You are invited to %(team)s on Jimeng Studio") % {"team": invitation.team.name}
    body = _(
        "%(inviter)s invited you to join %(team)s as %(role)s.\n\nOpen this link to accept "
        "(it works once, until %(expires)s):\n%(url)s\n"
    ) % {
        "inviter": invitation.created_by.get_username() if invitation.created_by else "",
        "team": invitation.team.name,
        "role": Role(invitation.role).label,
        "expires": timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d %H:%M"),
        "url": url,
    }
    send_mail(subject, body, None, [invitation.email], fail_silently=True)


def invitation_problem(state: str) -> str:
    return {
        "accepted": _("This invitation has already been used."),
        "revoked": _("This invitation was revoked."),
        "expired": _("This invitation has expired. Ask for a new one."),
    }.get(state, _("This invitation cannot be used."))


# --- credentials --------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def describe_upstream_error(error: JimengError, endpoint: str) -> str:
    """An upstream error in plain words, for people rather than logs."""
    code = error.code
    if error.kind == ErrorKind.ADDRESS:
        return _(
            "%(endpoint)s may not be used: keys only go to the official API hosts or to "
            "hosts the operator allowed, on public addresses."
        ) % {"endpoint": endpoint}
    if error.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT):
        return _("Could not reach %(endpoint)s (%(detail)s).") % {
            "endpoint": endpoint,
            "detail": error.message,
        }
    if code in (100009, "InvalidAccessKey") or code == "invalid_api_key":
        return _("The access key is not recognised.")
    if code in (100010, "SignatureDoesNotMatch"):
        return _("Bad signature: the secret key does not match the access key.")
    if code in (100013, 100012, "AccessDenied") or error.http_status == 403:
        return _("Access denied: this key may not use the video API.")
    if error.is_auth or error.http_status == 401:
        return _("The key was refused (%(detail)s).") % {"detail": error.message}
    return _("The service answered with an error: %(detail)s") % {"detail": str(error)}


def check_connection(credential: Any) -> ConnectionCheck:
    """One signed GetResult for a task that does not exist: `not_found` means the keys work."""
    try:
        result = credential.client(query_timeout=10).get_result(
            task_id="0", req_key=credential.modes()[0].req_key
        )
    except JimengError as error:
        check = ConnectionCheck(False, describe_upstream_error(error, credential.endpoint))
    else:
        if result.status == TaskStatus.NOT_FOUND:
            check = ConnectionCheck(True, _("Keys valid: the service accepted the signed request."))
        else:
            check = ConnectionCheck(
                False, _("Unexpected answer: %(status)s") % {"status": result.status}
            )
    credential.record_test(ok=check.ok, message=check.message)
    return check


@transaction.atomic
def make_default(credential: Any) -> None:
    credential.team.credentials.filter(is_default=True).exclude(pk=credential.pk).update(
        is_default=False
    )
    credential.is_default = True
    credential.save(update_fields=["is_default"])


# --- quota --------------------------------------------------------------------------


class QuotaExceeded(Refused):
    def __init__(self, usage: Usage, cost: Decimal, seconds: int, team: Team) -> None:
        self.usage = usage
        if team.is_suspended:
            message = _("This team is suspended and cannot start new videos.")
        else:
            left = []
            if usage.left_cny is not None:
                left.append(_("%(amount)s CNY") % {"amount": max(usage.left_cny, Decimal("0.00"))})
            if usage.left_seconds is not None:
                left.append(
                    _("%(seconds)s video seconds") % {"seconds": max(usage.left_seconds, 0)}
                )
            message = _(
                "Not enough quota: this video needs %(cost)s CNY (%(seconds)s s) and the team has "
                "%(left)s left this month. The quota resets on %(reset)s."
            ) % {
                "cost": cost,
                "seconds": seconds,
                "left": _(" and ").join(left),
                "reset": timezone.localtime(usage.resets_at).strftime("%Y-%m-%d %H:%M"),
            }
        super().__init__(message)


def reserve(*, team: Team, generation: Generation, user: Any) -> LedgerEntry:
    """Hold the generation's cost against the team's month, or raise QuotaExceeded.

    The team row is locked for the rest of the caller's transaction (PostgreSQL); on
    SQLite the transaction began with BEGIN IMMEDIATE, so writers are serialised.
    Either way two reservations can never both see the same room.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve() must run inside a transaction")
    locked = Team.objects.select_for_update().get(pk=team.pk)
    period = month_start()
    usage = locked.usage(period)
    if locked.is_suspended or not usage.allows(generation.cost_cny, generation.seconds):
        raise QuotaExceeded(usage, generation.cost_cny, generation.seconds, locked)
    return LedgerEntry.objects.create(
        team=locked,
        generation=generation,
        kind=EntryKind.RESERVE,
        amount_cny=generation.cost_cny,
        seconds=generation.seconds,
        period=period,
        created_by=user,
    )


def _close_reservation(generation: Generation, kind: str, reason: str = "") -> LedgerEntry | None:
    """Settle or release a generation's reservation, once. A second call does nothing."""
    reservation = LedgerEntry.objects.filter(generation=generation, kind=EntryKind.RESERVE).first()
    if reservation is None:
        return None
    try:
        with transaction.atomic():
            return LedgerEntry.objects.create(
                team_id=generation.team_id,
                generation=generation,
                kind=kind,
                amount_cny=reservation.amount_cny,
                seconds=reservation.seconds,
                period=reservation.period,
                reason=reason[:200],
            )
    except IntegrityError:
        return None  # already settled or released


def settle(generation: Generation) -> LedgerEntry | None:
    return _close_reservation(generation, EntryKind.SETTLE)


def release(generation: Generation, reason: str = "") -> LedgerEntry | None:
    return _close_reservation(generation, EntryKind.RELEASE, reason)


def grant_topup(
    *, team: Team, amount_cny: Decimal, seconds: int, reason: str, user: Any
) -> LedgerEntry:
    if not reason.strip():
        raise Refused(_("A top-up needs a reason."))
    return LedgerEntry.objects.create(
        team=team,
        kind=EntryKind.TOPUP,
        amount_cny=amount_cny,
        seconds=seconds,
        period=month_start(),
        created_by=user,
        reason=reason.strip()[:200],
    )


# --- starting generations -------------------------------------------------------------


def credential_for_mode(team: Team, mode: catalog.Mode) -> Credential | None:
    """The team's default key when it serves this mode's provider, else its first such key."""
    kind = CredentialKind.GATEWAY if mode.is_gateway else CredentialKind.VOLCENGINE
    return team.credentials.filter(kind=kind).order_by("-is_default", "pk").first()


def available_modes(team: Team) -> list[catalog.Mode]:
    kinds = set(team.credentials.values_list("kind", flat=True))
    return [
        mode
        for mode in catalog.MODES.values()
        if (CredentialKind.GATEWAY if mode.is_gateway else CredentialKind.VOLCENGINE) in kinds
    ]


@dataclass(frozen=True)
class Quote:
    price: catalog.Price
    cost_cny: Decimal


def quote(mode: catalog.Mode, seconds: int) -> Quote:
    prices = Price.objects.table()
    return Quote(prices[mode.req_key], catalog.estimate_cost(mode, seconds, prices))


def _params(mode: catalog.Mode, request: GenerationInput) -> dict[str, Any]:
    """The request as it will be sent, with images reduced to a count."""
    body = build_body(mode, request)
    for key in ("binary_data_base64", "images"):
        if key in body:
            body[key] = f"<{len(body[key])} image(s)>"
    return body


def start_generation(
    *,
    team: Team,
    user: Any,
    mode: catalog.Mode,
    request: GenerationInput,
    frames: list[Frame],
    retry_of: Generation | None = None,
) -> Generation:
    """Record the job and reserve its cost in one transaction, then store its frames.

    A refused reservation leaves nothing behind. Frames go to storage after the
    commit (storage may be a network service); the job becomes due only once they
    are stored, and the sweeper fails it if that never happens.
    """
    credential = credential_for_mode(team, mode)
    if credential is None:
        raise Refused(_("Add an upstream key for this mode on the Keys page first."))
    offer = quote(mode, request.seconds)
    now = timezone.now()
    with transaction.atomic():
        generation = Generation.objects.create(
            team=team,
            created_by=user,
            credential=credential,
            retry_of=retry_of,
            mode=mode.name,
            req_key=mode.req_key,
            prompt=request.prompt,
            seconds=request.seconds,
            aspect_ratio=request.aspect_ratio or "",
            seed=request.seed,
            resolution=request.resolution or "",
            template_id=request.template_id or "",
            camera_strength=request.camera_strength or "",
            image_urls=list(request.image_urls),
            params=_params(mode, request),
            price_cny_per_second=offer.price.cny_per_second,
            price_is_estimate=offer.price.is_estimate,
            cost_cny=offer.cost_cny,
            deadline_at=now + timedelta(seconds=settings.JOB_DEADLINE_SECONDS),
            next_action_at=None if frames else now,
        )
        reserve(team=team, generation=generation, user=user)
        gallery_totals.record_created(generation)
    if frames:
        _store_frames(generation, frames)
    _kick_later()
    log.info("job created", extra={"job": generation.pk, "team": team.pk})
    return generation


def _store_frames(generation: Generation, frames: list[Frame]) -> None:
    from generations import pipeline

    try:
        for frame in frames:
            image = GenerationImage(
                generation=generation,
                position=frame.position,
                original_name=frame.original_name[:200],
                width=frame.width,
                height=frame.height,
                aspect_ratio=frame.aspect_ratio,
            )
            with frame.open_original() as original:
                image.original.save(f"original.{frame.original_extension}", File(original), False)
            image.fitted.save(f"fitted.{frame.fitted_extension}", ContentFile(frame.fitted), False)
            image.save()
    except (OSError, DatabaseError) as error:
        pipeline.fail(generation, "storage", str(error)[:200])
        for image in generation.images.all():
            image.original.delete(save=False)
            image.fitted.delete(save=False)
        raise Refused(
            _("The images could not be stored; nothing was charged. Try again.")
        ) from None
    Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
        next_action_at=timezone.now()
    )


def _kick_later() -> None:
    """Wake the dispatchers once committed. The job is already safe in the database; if
    the kick fails (database or broker briefly away), recovery picks the job up."""
    from generations import pipeline

    def kick() -> None:
        try:
            pipeline.kick()
        except Exception:
            log.warning(
                "could not wake the dispatchers; recovery will pick the job up", exc_info=True
            )

    transaction.on_commit(kick)


def retry_generation(*, generation: Generation, user: Any) -> Generation:
    """Run a finished job again as a new generation with the same inputs."""
    from generations.forms import frames_from_generation

    mode = generation.catalog_mode
    frames = frames_from_generation(generation)
    request = GenerationInput(
        prompt=generation.prompt,
        seconds=generation.seconds,
        aspect_ratio=generation.aspect_ratio or None,
        seed=generation.seed,
        images_base64=tuple("…" for _ in frames),
        image_urls=tuple(generation.image_urls),
        image_ratios=tuple(frame.aspect_ratio for frame in frames),
        template_id=generation.template_id or None,
        camera_strength=generation.camera_strength or None,
        resolution=generation.resolution or None,
    )
    return start_generation(
        team=generation.team,
        user=user,
        mode=mode,
        request=request,
        frames=frames,
        retry_of=generation,
    )


# --- sharing ------------------------------------------------------------------------


def create_share(
    *, team: Team, user: Any, generation_ids: list[int], title: str, expires_at: datetime | None
) -> ShareLink:
    generations = list(
        Generation.objects.for_team(team).filter(pk__in=generation_ids, status=Status.READY)
    )
    if not generations:
        raise Refused(_("Choose at least one finished video to share."))
    order = {pk: index for index, pk in enumerate(generation_ids)}
    generations.sort(key=lambda g: order.get(g.pk, 0))
    with transaction.atomic():
        link = ShareLink.new(
            team=team, created_by=user, title=title.strip()[:120], expires_at=expires_at
        )
        link.save()
        ShareItem.objects.bulk_create(
            ShareItem(link=link, generation=generation, position=index)
            for index, generation in enumerate(generations)
        )
    return link
