"""Generations (jobs), their images, the team's tags, and the gallery's kept totals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, Count, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations.jimeng import catalog
from generations.jimeng.payload import GenerationInput
from generations.labels import failure_reason, mode_label
from generations.models.keys import Credential
from generations.models.teams import Team

ZERO = Decimal("0.00")


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
            # The gallery's order is (-created_at, -id): each index it walks ends with both,
            # so no planner needs a sort, whatever its statistics say of `team` (one team
            # with every job looked unselective to SQLite's, which then scanned them all).
            models.Index(fields=["team", "-created_at", "-id"], name="gen_team_recent"),
            models.Index(fields=["status", "next_action_at"], name="gen_due"),
            models.Index(fields=["team", "status", "-created_at", "-id"], name="gen_team_status"),
            models.Index(fields=["mode", "seconds", "-upstream_done_at"], name="gen_recent_done"),
            # The gallery filtered by mode or by author, newest first, without a sort.
            models.Index(fields=["team", "mode", "-created_at", "-id"], name="gen_team_mode"),
            models.Index(
                fields=["team", "created_by", "-created_at", "-id"], name="gen_team_author"
            ),
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
    def could_have_sound(self) -> bool:
        """Its model makes sound when asked: only then is "silent" worth saying."""
        mode = catalog.MODES.get(self.mode)
        return bool(mode and mode.ark and mode.ark.audio)

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
        if self.status != Status.FAILED:
            return ""
        return failure_reason(self.failure_code, self.failure_detail)

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
