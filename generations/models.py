"""Teams and their people, upstream credentials, the spend ledger, prices, generations
and share links.

State changes of one row are methods here; workflows that span rows or call the
upstream live in `services.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from generations import crypto
from generations.jimeng import catalog
from generations.jimeng.client import (
    ArkClient,
    GatewayClient,
    Timeouts,
    UpstreamClient,
    VolcengineClient,
)
from generations.jimeng.payload import GenerationInput
from generations.mode_names import mode_label
from generations.reasons import failure_reason
from generations.upstream import address_rules

ZERO = Decimal("0.00")


# --- months -------------------------------------------------------------------------


def month_start(moment: datetime | None = None) -> date:
    local = timezone.localtime(moment or timezone.now())
    return local.date().replace(day=1)


def following_month(first: date) -> date:
    """The first day of the month after the one `first` starts."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def next_month_start(moment: datetime | None = None) -> datetime:
    following = following_month(month_start(moment))
    return timezone.make_aware(datetime.combine(following, datetime.min.time()))


# --- teams and people ---------------------------------------------------------------


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")
    VIEWER = "viewer", _("Viewer")


ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Team(models.Model):
    name = models.CharField(_("name"), max_length=80)
    slug = models.SlugField(_("slug"), max_length=40, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    quota_cny = models.DecimalField(
        _("monthly quota (CNY)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Empty means unlimited."),
    )
    quota_seconds = models.PositiveIntegerField(
        _("monthly quota (video seconds)"),
        null=True,
        blank=True,
        help_text=_("Empty means unlimited."),
    )
    suspended_at = models.DateTimeField(_("suspended"), null=True, blank=True)
    suspended_reason = models.CharField(_("suspension reason"), max_length=200, blank=True)
    # The dispatchers' memory for taking turns: when this team last got an upstream
    # call, and whether it was a submit (1) or a poll (0).
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)
    dispatch_lane = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    def usage(self, period: date | None = None) -> Usage:
        return Usage.of(self, period or month_start())

    def suspend(self, reason: str) -> None:
        self.suspended_at = timezone.now()
        self.suspended_reason = reason[:200]
        self.save(update_fields=["suspended_at", "suspended_reason"])

    def unsuspend(self) -> None:
        self.suspended_at = None
        self.suspended_reason = ""
        self.save(update_fields=["suspended_at", "suspended_reason"])


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)
    # A member's own monthly limit under the team's quota, set by the team's admins;
    # none: only the team's quota applies (docs/pricing.md).
    monthly_budget_cny = models.DecimalField(
        _("monthly budget (CNY)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    notify_by_email = models.BooleanField(
        _("email me when my jobs finish"),
        default=False,
        help_text=_("Besides the bell in the studio, an email for each ready or failed job."),
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.team} · {self.role}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """A single-use link that makes whoever opens it (signed in) a member with `role`."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    email = models.EmailField(_("email"), blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.team} · {self.role} · {self.state}"

    @classmethod
    def issue(
        cls, *, team: Team, role: str, created_by: Any, email: str = "", days: int = 7
    ) -> tuple[Invitation, str]:
        """Create an invitation and return it with its token, which is not stored."""
        token = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            team=team,
            role=role,
            email=email,
            token_hash=_token_hash(token),
            created_by=created_by,
            expires_at=timezone.now() + timedelta(days=days),
        )
        return invitation, token

    @classmethod
    def find(cls, token: str) -> Invitation | None:
        digest = _token_hash(token)
        invitation = cls.objects.select_related("team").filter(token_hash=digest).first()
        if invitation and hmac.compare_digest(invitation.token_hash, digest):
            return invitation
        return None

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    def revoke(self) -> bool:
        return bool(
            Invitation.objects.filter(
                pk=self.pk, accepted_at__isnull=True, revoked_at__isnull=True
            ).update(revoked_at=timezone.now())
        )

    def claim(self, user: Any) -> bool:
        """Mark accepted, once: a second use (even a concurrent one) gets False."""
        return bool(
            Invitation.objects.filter(
                pk=self.pk,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=timezone.now(),
            ).update(accepted_at=timezone.now(), accepted_by=user)
        )


# --- upstream credentials -----------------------------------------------------------


@sensitive_variables("key")
def credential_fingerprint(*, kind: str, endpoint: str, key: str) -> str:
    """Names an upstream account (for the shared rate bucket, upstream_rate.py) without
    storing anything that could be tested against a guessed key: an HMAC keyed with the
    server secret."""
    message = f"{kind}\n{endpoint.strip()}\n{key}"
    return salted_hmac("jimeng.credential-fingerprint", message, algorithm="sha256").hexdigest()


class CredentialKind(models.TextChoices):
    VOLCENGINE = "volcengine", _("Volcengine AK/SK")
    GATEWAY = "gateway", _("Gateway Bearer key")
    ARK = "ark", _("Ark API key")

    @property
    def provider(self) -> catalog.Provider:
        return catalog.Provider(self.value)


class Credential(models.Model):
    """An upstream key pair (or Bearer key), encrypted at rest with CREDENTIALS_KEYS."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="credentials")
    kind = models.CharField(_("kind"), max_length=12, choices=CredentialKind.choices)
    label = models.CharField(_("label"), max_length=60)
    endpoint = models.CharField(_("endpoint"), max_length=300)  # checked by the forms

    access_key_encrypted = models.TextField(blank=True)
    secret_encrypted = models.TextField()
    # Names the upstream account for the shared rate limiter (credential_fingerprint).
    fingerprint = models.CharField(max_length=64, db_index=True)
    max_qps = models.FloatField(
        _("requests per second"),
        null=True,
        blank=True,
        help_text=_("Upstream QPS for this key; empty uses the site default."),
    )
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_test_message = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")
        ordering = ["-is_default", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(is_default=True), name="one_default_credential"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_kind_display()})"

    def __repr__(self) -> str:
        return f"<Credential {self.pk} {self.kind} {self.label!r}>"

    @method_decorator(sensitive_variables("access_key", "secret"))
    def set_secrets(self, *, access_key: str, secret: str) -> None:
        """Encrypt the keys and name the upstream account they belong to. Call it after
        setting the kind and endpoint: the fingerprint covers them too."""
        self.access_key_encrypted = crypto.encrypt(access_key) if access_key else ""
        self.secret_encrypted = crypto.encrypt(secret)
        self.fingerprint = credential_fingerprint(
            kind=self.kind, endpoint=self.endpoint, key=access_key or secret
        )

    @property
    def access_key(self) -> str:
        return crypto.decrypt(self.access_key_encrypted) if self.access_key_encrypted else ""

    def masked_access_key(self) -> str:
        return crypto.mask(self.access_key) if self.access_key_encrypted else ""

    def masked_secret(self) -> str:
        return crypto.mask(crypto.decrypt(self.secret_encrypted))

    def qps(self) -> float:
        return float(self.max_qps or settings.UPSTREAM_QPS)

    @method_decorator(sensitive_variables("secret"))
    def client(self, *, query_timeout: float | None = None) -> UpstreamClient:
        timeouts = Timeouts(
            connect=settings.JIMENG_CONNECT_TIMEOUT,
            query=query_timeout or settings.JIMENG_QUERY_TIMEOUT,
            submit=settings.JIMENG_SUBMIT_TIMEOUT,
        )
        secret = crypto.decrypt(self.secret_encrypted)
        rules = address_rules()
        if self.kind == CredentialKind.GATEWAY:
            return GatewayClient(
                api_key=secret, base_url=self.endpoint, timeouts=timeouts, rules=rules
            )
        if self.kind == CredentialKind.ARK:
            return ArkClient(api_key=secret, base_url=self.endpoint, timeouts=timeouts, rules=rules)
        return VolcengineClient(
            access_key=self.access_key,
            secret_key=secret,
            endpoint=self.endpoint,
            timeouts=timeouts,
            rules=rules,
        )

    def modes(self) -> list[catalog.Mode]:
        """The catalog modes this credential can run."""
        provider = CredentialKind(self.kind).provider
        return [mode for mode in catalog.MODES.values() if mode.provider == provider]

    def record_test(self, *, ok: bool, message: str) -> None:
        self.last_tested_at = timezone.now()
        self.last_test_ok = ok
        self.last_test_message = message[:300]
        self.save(update_fields=["last_tested_at", "last_test_ok", "last_test_message"])


# --- prices -------------------------------------------------------------------------


class PriceQuerySet(models.QuerySet["Price"]):
    def table(self) -> dict[str, catalog.Price]:
        """Every catalog price, with operators' edits over the defaults."""
        prices = dict(catalog.DEFAULT_PRICES)
        for row in self.all():
            prices[row.key] = catalog.Price(
                row.key, row.cny_per_second, row.is_estimate, row.cny_per_million_tokens
            )
        return prices

    def retired(self, today: date) -> dict[str, date]:
        """The price keys (models) an operator retired by `today`, with their dates."""
        rows = self.filter(retires_on__lte=today).values_list("key", "retires_on")
        return {key: retires_on for key, retires_on in rows if retires_on is not None}


class Price(models.Model):
    key = models.CharField(_("model key"), max_length=80, unique=True)
    cny_per_second = models.DecimalField(_("CNY per second"), max_digits=8, decimal_places=3)
    cny_per_million_tokens = models.DecimalField(
        _("CNY per million tokens"),
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Ark models are billed per token; their CNY per second is 0."),
    )
    is_estimate = models.BooleanField(
        _("estimate"), default=True, help_text=_("Shown to users as an estimate.")
    )
    # The vendor retires models; operators record the day (new jobs stop, old ones stay).
    retires_on = models.DateField(
        _("retired from"),
        null=True,
        blank=True,
        help_text=_("From this day new jobs may not use this model; earlier jobs keep it."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = PriceQuerySet.as_manager()

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}: {self.cny_per_second} CNY/s"


# --- the ledger ---------------------------------------------------------------------


class EntryKind(models.TextChoices):
    RESERVE = "reserve", _("Reserved")
    SETTLE = "settle", _("Settled")
    RELEASE = "release", _("Released")
    TOPUP = "topup", _("Top-up")


class LedgerEntry(models.Model):
    """One step in a team's spend: append-only, never edited.

    Every generation has one reservation and then exactly one settlement or release of
    the same amount; the constraints make a second one impossible, even from two
    workers at once.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="ledger")
    generation = models.ForeignKey(
        "Generation", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=EntryKind.choices)
    amount_cny = models.DecimalField(_("CNY"), max_digits=12, decimal_places=2)
    seconds = models.IntegerField(_("video seconds"), default=0)
    period = models.DateField(_("month"), help_text=_("First day of the month it counts in."))
    created_at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # On a settlement: the reservation it closes, when the actual amount differs (Ark
    # bills the tokens it used; "auto" lengths reserve the longest).
    reserved_cny = models.DecimalField(
        _("estimated CNY"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    reserved_seconds = models.IntegerField(_("estimated seconds"), null=True, blank=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "period", "kind"])]
        constraints = [
            models.UniqueConstraint(
                fields=["generation"],
                condition=Q(kind="reserve"),
                name="one_reservation_per_generation",
            ),
            models.UniqueConstraint(
                fields=["generation"],
                condition=Q(kind__in=["settle", "release"]),
                name="one_outcome_per_generation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_cny} CNY / {self.seconds} s"


@dataclass(frozen=True)
class Usage:
    """A team's month: what it may spend, what is spent, what is held for running jobs."""

    period: date
    quota_cny: Decimal | None
    quota_seconds: int | None
    topup_cny: Decimal
    topup_seconds: int
    spent_cny: Decimal
    spent_seconds: int
    reserved_cny: Decimal
    reserved_seconds: int

    @classmethod
    def of(cls, team: Team, period: date) -> Usage:
        def total(field: str, kind: str) -> Coalesce:
            zero = Decimal("0") if field == "amount_cny" else 0
            return Coalesce(Sum(field, filter=Q(kind=kind)), zero)

        sums = LedgerEntry.objects.filter(team=team, period=period).aggregate(
            **{
                f"{kind}_{short}": total(field, kind)
                for kind in EntryKind.values
                for field, short in (("amount_cny", "cny"), ("seconds", "s"))
            },
            # What settlements took out of the reserved sums (their estimate).
            closed_cny=Coalesce(
                Sum(Coalesce("reserved_cny", "amount_cny"), filter=Q(kind=EntryKind.SETTLE)),
                Decimal("0"),
            ),
            closed_s=Coalesce(
                Sum(Coalesce("reserved_seconds", "seconds"), filter=Q(kind=EntryKind.SETTLE)), 0
            ),
        )

        def cny(value: Decimal) -> Decimal:  # SQLite sums come back without their scale
            return Decimal(value).quantize(ZERO)

        return cls(
            period=period,
            quota_cny=team.quota_cny,
            quota_seconds=team.quota_seconds,
            topup_cny=cny(sums["topup_cny"]),
            topup_seconds=sums["topup_s"],
            spent_cny=cny(sums["settle_cny"]),
            spent_seconds=sums["settle_s"],
            reserved_cny=cny(sums["reserve_cny"] - sums["closed_cny"] - sums["release_cny"]),
            reserved_seconds=sums["reserve_s"] - sums["closed_s"] - sums["release_s"],
        )

    @property
    def left_cny(self) -> Decimal | None:
        if self.quota_cny is None:
            return None
        return self.quota_cny + self.topup_cny - self.spent_cny - self.reserved_cny

    @property
    def left_seconds(self) -> int | None:
        if self.quota_seconds is None:
            return None
        return self.quota_seconds + self.topup_seconds - self.spent_seconds - self.reserved_seconds

    def allows(self, cost_cny: Decimal, seconds: int) -> bool:
        cny_ok = self.left_cny is None or cost_cny <= self.left_cny
        seconds_ok = self.left_seconds is None or seconds <= self.left_seconds
        return cny_ok and seconds_ok

    @property
    def resets_at(self) -> datetime:
        return next_month_start(
            timezone.make_aware(datetime.combine(self.period, datetime.min.time()))
        )


# --- generations --------------------------------------------------------------------


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SUBMITTING = "submitting", _("Submitting")
    # The submit's answer was lost: looking for the task upstream before any resend.
    CHECKING = "checking", _("Checking the submit")
    SUBMITTED = "submitted", _("Submitted")
    GENERATING = "generating", _("Generating")
    DOWNLOADING = "downloading", _("Downloading")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE = (
    Status.QUEUED,
    Status.SUBMITTING,
    Status.CHECKING,
    Status.SUBMITTED,
    Status.GENERATING,
    Status.DOWNLOADING,
)
TERMINAL = (Status.READY, Status.FAILED, Status.CANCELLED)
POLLED = (Status.SUBMITTED, Status.GENERATING)
# What dispatchers work on: submits, lost-answer checks and polls.
DISPATCHED = (Status.QUEUED, Status.CHECKING, *POLLED)


class GenerationQuerySet(models.QuerySet["Generation"]):
    def for_team(self, team: Team) -> GenerationQuerySet:
        """The team's jobs, without those deleted from the gallery."""
        return self.filter(team=team, deleted_at__isnull=True)

    def active(self) -> GenerationQuerySet:
        return self.filter(status__in=ACTIVE)

    def with_variants(self) -> GenerationQuerySet:
        """Each job with `variants`: how many jobs of its submit are still in the gallery
        (1 for a job made alone)."""
        same_submit = (
            Generation.objects.filter(batch=OuterRef("batch"), deleted_at__isnull=True)
            .exclude(batch="")  # lets the planners use the partial index gen_batch
            .order_by()
            .values("batch")
            .annotate(n=Count("pk"))
            .values("n")
        )
        # A job made alone has no batch: counting the jobs "of its submit" would count
        # every solo job of the studio. The subquery runs only for variants (a CASE
        # evaluates the branch it takes), as an indexed lookup of at most four rows.
        return self.annotate(
            variants=Case(
                When(batch="", then=Value(1)),
                default=Coalesce(Subquery(same_submit), 1),
                output_field=models.IntegerField(),
            )
        )

    def with_tile_facts(self, user_id: int) -> GenerationQuerySet:
        """What each gallery tile shows besides the job: its variants, whether a ready
        video continues it (`continued`: that video's id, or None) and whether `user_id`
        keeps it as a favourite (`is_favourite`).

        Scalar subqueries, not EXISTS: PostgreSQL plans an EXISTS over a whole team's
        jobs (it cannot see the page's LIMIT) as one hash of every ready job; a scalar
        subquery stays an indexed lookup per tile.
        """
        continued = (
            Generation.objects.filter(extends=OuterRef("pk"), status=Status.READY)
            .order_by()
            .values("pk")[:1]
        )
        favourite = Generation.favourite_of.through.objects.filter(
            generation_id=OuterRef("pk"), user_id=user_id
        ).values("pk")[:1]
        return self.with_variants().annotate(
            continued=Subquery(continued), is_favourite=Subquery(favourite)
        )


# Media names are fixed by the generation's id, so a retried step overwrites its own
# earlier attempt instead of leaving an orphan beside it.


def video_path(generation: Generation, filename: str = "") -> str:
    return f"videos/{generation.team_id}/{generation.pk}.mp4"


def poster_path(generation: Generation, filename: str = "") -> str:
    return f"posters/{generation.team_id}/{generation.pk}.jpg"


def last_frame_path(generation: Generation, filename: str = "") -> str:
    return f"frames/{generation.team_id}/{generation.pk}-last.png"


IMAGE_EXTENSIONS = ("jpg", "png", "webp")


def _image_extension(filename: str) -> str:
    """The extension the caller chose from the image's detected format; anything else is
    stored as .bin (and served as a download, never as a page)."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return extension if extension in IMAGE_EXTENSIONS else "bin"


def original_path(image: GenerationImage, filename: str = "") -> str:
    stem = f"uploads/{image.generation.team_id}/{image.generation_id}-{image.position}"
    return f"{stem}-original.{_image_extension(filename)}"


def fitted_path(image: GenerationImage, filename: str = "") -> str:
    stem = f"uploads/{image.generation.team_id}/{image.generation_id}-{image.position}"
    return f"{stem}-fitted.{_image_extension(filename)}"


class Generation(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="generations")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="generations"
    )
    credential = models.ForeignKey(
        Credential, on_delete=models.SET_NULL, null=True, related_name="generations"
    )
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Variants: the jobs of one submit share a batch (one prompt, several takes).
    batch = models.CharField(max_length=32, blank=True)
    favourite_of = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="favourite_generations"
    )
    tags: models.ManyToManyField[Tag, Any] = models.ManyToManyField(
        "Tag", blank=True, related_name="generations"
    )
    # Deleted from the gallery by an admin: media removed, the row (and so the
    # ledger's record of what it cost) kept, and hidden from every page.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # A chain: this job starts from the last frame of `extends`.
    extends = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="extensions"
    )
    # The final video made from a draft (Ark): `from_draft` is the draft.
    from_draft = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="finals"
    )

    # What was asked for.
    mode = models.CharField(_("mode"), max_length=60, db_index=True)
    req_key = models.CharField(max_length=60)
    prompt = models.TextField(_("prompt"), blank=True)
    seconds = models.PositiveSmallIntegerField(_("duration"))
    aspect_ratio = models.CharField(_("aspect ratio"), max_length=10, blank=True)
    seed = models.BigIntegerField(_("seed"), default=-1)
    resolution = models.CharField(max_length=10, blank=True)
    template_id = models.CharField(max_length=40, blank=True)
    camera_strength = models.CharField(max_length=10, blank=True)
    image_urls = models.JSONField(default=list, blank=True)
    params = models.JSONField(_("request parameters"), default=dict, blank=True)
    # Ark options (docs/upstream/ark.md).
    generate_audio = models.BooleanField(_("with sound"), default=False)
    auto_length = models.BooleanField(default=False)  # the model picks; `seconds` is the most
    draft = models.BooleanField(_("draft"), default=False)
    references = models.BooleanField(default=False)

    # What it costs.
    price_cny_per_second = models.DecimalField(max_digits=8, decimal_places=3)
    price_cny_per_million_tokens = models.DecimalField(
        max_digits=10, decimal_places=3, null=True, blank=True
    )
    price_is_estimate = models.BooleanField(default=False)
    # What it costs: the estimate until the job is ready, then what was charged (Ark
    # bills the tokens it used). The estimate, as reserved, stays in estimated_cny.
    cost_cny = models.DecimalField(_("cost (CNY)"), max_digits=12, decimal_places=2)
    estimated_cny = models.DecimalField(
        _("estimate (CNY)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    tokens_estimated = models.PositiveIntegerField(null=True, blank=True)
    tokens_used = models.PositiveIntegerField(_("tokens billed"), null=True, blank=True)

    # Where it is.
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    next_action_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=32, blank=True)
    deadline_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)  # submissions tried
    # Of those, the ones that met an error (not a rate or concurrency limit, which only
    # says "not now"): only these use up a job's MAX_SUBMIT_ATTEMPTS.
    submit_errors = models.PositiveSmallIntegerField(default=0)
    download_attempts = models.PositiveSmallIntegerField(default=0)
    polls = models.PositiveIntegerField(default=0)
    errors_in_a_row = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    # Names the job to the upstream (Ark's safety_identifier), so a create whose answer
    # was lost can be found; and where the upstream calls back (a hash of the URL's token).
    upstream_identifier = models.CharField(max_length=64, blank=True)
    callback_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    checks = models.PositiveSmallIntegerField(default=0)  # list searches after a lost answer
    upstream_task_id = models.CharField(_("task id"), max_length=80, blank=True, db_index=True)
    upstream_request_id = models.CharField(_("request id"), max_length=80, blank=True)
    upstream_status = models.CharField(max_length=20, blank=True)
    video_url = models.TextField(blank=True)
    last_frame_url = models.TextField(blank=True)  # Ark's, until the archive keeps the frame
    aigc_meta_tagged = models.BooleanField(_("AIGC label"), null=True)

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The last query that found the task still running, and the one that found it done:
    # the upstream finished between the two (the poll schedule learns from that).
    upstream_running_at = models.DateTimeField(null=True, blank=True)
    upstream_done_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    failure_code = models.CharField(max_length=40, blank=True)
    failure_detail = models.CharField(max_length=300, blank=True)

    # What came back.
    video = models.FileField(upload_to=video_path, blank=True, max_length=200)
    poster = models.FileField(upload_to=poster_path, blank=True, max_length=200)
    video_bytes = models.BigIntegerField(null=True, blank=True)
    video_duration = models.FloatField(_("duration (probed)"), null=True, blank=True)
    video_fps = models.FloatField(null=True, blank=True)
    video_width = models.PositiveIntegerField(null=True, blank=True)
    video_height = models.PositiveIntegerField(null=True, blank=True)
    video_frames = models.PositiveIntegerField(null=True, blank=True)
    video_audio_codec = models.CharField(max_length=20, blank=True)  # empty: silent
    seed_used = models.BigIntegerField(_("seed used"), null=True, blank=True)
    last_frame = models.FileField(upload_to=last_frame_path, blank=True, max_length=200)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        verbose_name = _("generation")
        verbose_name_plural = _("generations")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="gen_team_recent"),
            models.Index(fields=["status", "next_action_at"], name="gen_due"),
            models.Index(fields=["team", "status", "-created_at"], name="gen_team_status"),
            models.Index(fields=["mode", "seconds", "-upstream_done_at"], name="gen_recent_done"),
            # The gallery filtered by mode or by author, newest first, without a sort.
            models.Index(fields=["team", "mode", "-created_at"], name="gen_team_mode"),
            models.Index(fields=["team", "created_by", "-created_at"], name="gen_team_author"),
            # Most jobs have no batch and extend nothing: indexing only those that do
            # keeps the planners from taking these columns for unselective (an index
            # of a column that is mostly '' or NULL looked worse to them than `status`).
            models.Index(fields=["batch"], name="gen_batch", condition=~Q(batch="")),
            models.Index(
                fields=["extends", "status"],
                name="gen_extensions",
                condition=Q(extends__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.mode} · {self.status}"

    @property
    def catalog_mode(self) -> catalog.Mode:
        return catalog.get_mode(self.mode)

    @property
    def mode_label(self) -> str:
        return mode_label(self.mode)

    @property
    def has_sound(self) -> bool:
        return bool(self.video_audio_codec)

    @property
    def can_make_final(self) -> bool:
        """A ready Ark draft: its final video can be made from it."""
        mode = catalog.MODES.get(self.mode)
        return bool(self.draft and self.status == Status.READY and mode and mode.ark)

    @property
    def can_cancel(self) -> bool:
        """Not sent yet; or an Ark task still waiting in the upstream's queue."""
        if self.status == Status.QUEUED:
            return True
        mode = catalog.MODES.get(self.mode)
        waiting = self.status == Status.SUBMITTED and self.upstream_status in ("", "in_queue")
        return bool(mode and mode.is_ark and waiting and self.upstream_task_id)

    @property
    def charged_cny(self) -> Decimal | None:
        """What the team was charged: the settled cost of a ready video, nothing for a job
        that failed or was cancelled (its reservation was released), None while it runs."""
        if self.status == Status.READY:
            return self.cost_cny
        if self.status in TERMINAL:
            return Decimal("0.00")
        return None

    @property
    def held_or_charged_cny(self) -> Decimal:
        """What is held for the job while it runs; what was charged once it ended."""
        charged = self.charged_cny
        return self.cost_cny if charged is None else charged

    @property
    def estimate_cny(self) -> Decimal:
        """What the job was expected to cost when it was made (and reserved)."""
        return self.estimated_cny if self.estimated_cny is not None else self.cost_cny

    @property
    def can_extend(self) -> bool:
        """Ready, with a video to take the last frame of (cut when first needed)."""
        return self.status == Status.READY and bool(self.video)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def elapsed(self) -> timedelta:
        return (self.finished_at or timezone.now()) - self.created_at

    @property
    def failure_reason(self) -> str:
        return failure_reason(self) if self.status == Status.FAILED else ""

    @property
    def sent_seed(self) -> int:
        """The seed sent upstream: the one asked for, or the one drawn for a random one
        (so that the video can be made again); -1 for models that pick their own."""
        if self.seed == -1 and self.seed_used is not None and self.catalog_mode.takes_seed:
            return self.seed_used
        return self.seed

    @property
    def known_seed(self) -> int:
        """The seed to show: the one the video was made with when known."""
        return self.seed_used if self.seed_used is not None else self.seed

    def request_input(self, images_base64: tuple[str, ...]) -> GenerationInput:
        """The request this job makes upstream, with its images as given: their bytes
        in base64 when sending, placeholders when the request is only checked."""
        return GenerationInput(
            prompt=self.prompt,
            seconds=catalog.AUTO_DURATION if self.auto_length else self.seconds,
            aspect_ratio=self.aspect_ratio or None,
            seed=self.sent_seed,
            images_base64=images_base64,
            image_urls=tuple(self.image_urls),
            image_ratios=tuple(
                self.images.order_by("position").values_list("aspect_ratio", flat=True)
            ),
            template_id=self.template_id or None,
            camera_strength=self.camera_strength or None,
            resolution=self.resolution or None,
            generate_audio=self.generate_audio,
            draft=self.draft,
            draft_task_id=self.from_draft.upstream_task_id if self.from_draft else None,
            references=self.references,
        )


class ImageRole(models.IntegerChoices):
    FIRST = 0, _("First frame")
    LAST = 1, _("Last frame")


class GenerationImage(models.Model):
    """An uploaded frame: the original as it came, and the version fitted to the limits."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(choices=ImageRole.choices)
    original = models.FileField(upload_to=original_path, max_length=200)
    fitted = models.FileField(upload_to=fitted_path, max_length=200)

    original_name = models.CharField(max_length=200, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    aspect_ratio = models.CharField(max_length=10)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "position"], name="one_image_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.generation_id}/{self.get_position_display()}"


# --- sharing ------------------------------------------------------------------------

SHARE_ID_LENGTH = 10


class ShareLink(models.Model):
    """An unguessable public link to one result or an album of several.

    The key in the URL is a public id (to find the row) followed by a 192-bit secret,
    which is compared in constant time.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    title = models.CharField(_("title"), max_length=120, blank=True)
    public_id = models.CharField(max_length=SHARE_ID_LENGTH, unique=True)
    secret = models.CharField(max_length=64)
    generations = models.ManyToManyField(
        Generation, through="ShareItem", related_name="share_links"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(_("views"), default=0)

    class Meta:
        verbose_name = _("share link")
        verbose_name_plural = _("share links")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title or self.public_id

    @classmethod
    def new(cls, **fields: Any) -> ShareLink:
        return cls(
            public_id=secrets.token_hex(SHARE_ID_LENGTH // 2),
            secret=secrets.token_urlsafe(24),  # 192 bits
            **fields,
        )

    @property
    def key(self) -> str:
        return f"{self.public_id}{self.secret}"

    @classmethod
    def find(cls, key: str) -> ShareLink | None:
        """The link with this key, live or not (`is_live` tells); None for a wrong key."""
        public_id, secret = key[:SHARE_ID_LENGTH], key[SHARE_ID_LENGTH:]
        link = cls.objects.filter(public_id=public_id).first()
        if link is None or not hmac.compare_digest(link.secret.encode(), secret.encode()):
            return None
        return link

    @property
    def is_live(self) -> bool:
        expired = self.expires_at is not None and self.expires_at <= timezone.now()
        return self.revoked_at is None and not expired

    def revoke(self) -> bool:
        return bool(
            ShareLink.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        )

    def record_view(self) -> None:
        ShareLink.objects.filter(pk=self.pk).update(view_count=F("view_count") + 1)


class ShareItem(models.Model):
    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="items")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["link", "generation"], name="one_item_per_generation")
        ]

    def __str__(self) -> str:
        return f"{self.link_id}/{self.generation_id}"


# --- coordination between workers ----------------------------------------------------


class WorkerLease(models.Model):
    """A named job that one worker at a time may do, for as long as it renews the lease."""

    name = models.CharField(max_length=60, primary_key=True)
    owner = models.CharField(max_length=40, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.owner or 'nobody'}"

    @classmethod
    def acquire(cls, name: str, owner: str, seconds: float) -> bool:
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        cls.objects.get_or_create(name=name, defaults={"owner": "", "expires_at": now})
        taken = cls.objects.filter(Q(expires_at__lte=now) | Q(owner=owner), name=name)
        return bool(taken.update(owner=owner, expires_at=until))

    @classmethod
    def release(cls, name: str, owner: str) -> None:
        cls.objects.filter(name=name, owner=owner).update(owner="", expires_at=timezone.now())

    @classmethod
    def is_held(cls, name: str) -> bool:
        return (
            cls.objects.filter(name=name, expires_at__gt=timezone.now()).exclude(owner="").exists()
        )


class Throttle(models.Model):
    """How many attempts one subject made in one window (generations.account_throttle)."""

    key = models.CharField(max_length=120, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class RateBucket(models.Model):
    """A token bucket in the database, for when no Redis is configured."""

    key = models.CharField(max_length=80, primary_key=True)
    tokens = models.FloatField()
    updated = models.FloatField()

    def __str__(self) -> str:
        return self.key


class Outcome(models.TextChoices):
    ACTIVE = "active"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"


class GalleryTotal(models.Model):
    """How many jobs a team made per day, mode, author and outcome, and the seconds and
    cost of the ready ones: the gallery's totals, kept in step with each job's creation
    and end in the same transaction, so they cost the same at 100 jobs as at 100,000."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    mode = models.CharField(max_length=60)
    author_id = models.BigIntegerField(default=0)  # 0: no author (deleted user)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    count = models.IntegerField(default=0)
    seconds = models.IntegerField(default=0)
    cost_cny = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "mode", "author_id", "outcome"], name="one_total_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team_id} {self.day} {self.mode} {self.outcome}: {self.count}"


# --- the API: personal tokens, idempotency, outgoing webhooks --------------------------


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class ApiToken(models.Model):
    """A member's personal access token for one team: `jst_<public id>_<secret>`. The
    secret is kept only as a hash; the token acts with its member's current role."""

    PREFIX = "jst_"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=60)
    public_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}{self.public_id}…)"

    @classmethod
    def issue(
        cls, *, team: Team, user: Any, name: str, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token and return it with its plain text, which is not stored."""
        public_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        token = cls.objects.create(
            team=team,
            user=user,
            name=name,
            public_id=public_id,
            secret_hash=_token_hash(secret),
            expires_at=expires_at,
        )
        return token, f"{cls.PREFIX}{public_id}_{secret}"

    @classmethod
    def find(cls, plain: str) -> ApiToken | None:
        """The live token with this text, or None (compared in constant time)."""
        if not plain.startswith(cls.PREFIX):
            return None
        public_id, _sep, secret = plain[len(cls.PREFIX) :].partition("_")
        token = (
            cls.objects.live().select_related("team", "user").filter(public_id=public_id).first()
        )
        if token is None or not hmac.compare_digest(token.secret_hash, _token_hash(secret)):
            return None
        return token

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def revoke(self) -> bool:
        return bool(
            ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        )

    def touch(self) -> None:
        """Note the use, at most once a minute (not a write per request)."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` a token sent with a write that costs money: the same key gets
    the same answer (api/idempotency.py)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=120)
    request_hash = models.CharField(max_length=64)
    generation = models.ForeignKey(
        Generation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The answer the first request got, given again to repeats (null while it runs).
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="one_job_per_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key}"


class WebhookEvent(models.TextChoices):
    JOB_READY = "job.ready", _("A video is ready")
    JOB_FAILED = "job.failed", _("A job failed")
    SHARE_CREATED = "share.created", _("A share link was made")
    # Sent by "Send a test event" only: not a choice for a webhook's events.
    PING = "ping", _("Test event")


class Webhook(models.Model):
    """A team's outgoing webhook: events are POSTed to `url`, signed with the secret."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(_("URL"), max_length=500)
    secret_encrypted = models.TextField()
    events = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one webhook: its body, as signed and sent, and how sending went."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=30, choices=WebhookEvent.choices)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} · {self.status}"


class Tag(models.Model):
    """A team's label for videos in its gallery."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("name"), max_length=40)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_tag_name")]

    def __str__(self) -> str:
        return self.name


class PromptTemplate(models.Model):
    """A prompt the team keeps to start from, with the mode it was written for."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="prompt_templates")
    name = models.CharField(_("name"), max_length=80)
    prompt = models.TextField(_("prompt"), max_length=2000)
    mode = models.CharField(_("mode"), max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("prompt template")
        verbose_name_plural = _("prompt templates")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_template_name")]

    def __str__(self) -> str:
        return self.name


class NotificationKind(models.TextChoices):
    JOB_READY = "job.ready", _("Video ready")
    JOB_FAILED = "job.failed", _("Job failed")


class Notification(models.Model):
    """What the bell shows a member: their job finished, one way or the other."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    generation = models.ForeignKey(
        Generation, on_delete=models.CASCADE, null=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)  # its email went out

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "user", "kind"], name="one_notification_per_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.generation_id} → {self.user_id}"
