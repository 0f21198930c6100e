"""The generate form: every mode's inputs, checked with the same rules as the
request builder, with messages in the user's language."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext_lazy as _

from generations.forms import set_choices
from generations.jimeng import catalog
from generations.jimeng.addresses import AddressRefused
from generations.jimeng.images import ImageRejected, fit_image
from generations.jimeng.payload import GenerationInput, Problem, check_input
from generations.labels import CAMERA_DESCRIPTIONS, STRENGTH_LABELS, mode_label
from generations.models import Generation, Status, Team, address_rules
from generations.services import held_frames as holding
from generations.services import variants as takes
from generations.services.estimates import priced_input
from generations.services.frames import (
    Frame,
    frame_from_last_frame,
    frame_from_upload,
    frames_from_generation,
    last_frame_of,
)

# What the prompt field takes at all; each mode's own limit (the catalog's) is lower.
PROMPT_MAX = 2000

PRIVATE_URL_MESSAGE = _(
    "This is a private or local address, which the video service cannot fetch; "
    "upload the image, or give a public https:// address."
)

PROBLEM_MESSAGES: dict[str, Any] = {
    "prompt_required": _("Write a prompt: %(mode)s makes the video from text."),
    "prompt_or_image": _("%(mode)s needs a prompt or a first frame."),
    "prompt_too_long": _("The prompt has %(length)s characters; %(mode)s takes at most %(limit)s."),
    "prompt_control": _("The prompt contains control characters; remove them."),
    "duration_choice": _("%(mode)s makes videos of %(choices)s seconds, not %(value)s."),
    "ratio_choice": _("%(mode)s does not offer %(value)s; choose one of %(choices)s."),
    "ratio_ignored": _("%(mode)s takes its aspect ratio from the image."),
    "adaptive_needs_image": _("“Adaptive” needs an image with %(mode)s."),
    "resolution_choice": _("%(mode)s does not offer %(value)s; choose one of %(choices)s."),
    "resolution_unused": _("Only gateway models take a resolution."),
    "images_missing": _("%(mode)s needs %(count)s image(s): add the first frame."),
    "images_too_many": _("%(mode)s takes at most %(count)s image(s)."),
    "images_unused": _("%(mode)s does not take images."),
    "tail_unused": _("A last frame is only used by the first + last frame modes."),
    "images_mixed": _("Upload both frames or give both as URLs, not one of each."),
    "ratio_mismatch": _(
        "The first frame is %(first)s and the last frame is %(last)s: "
        "both frames must have the same aspect ratio."
    ),
    "image_ratio": _(
        "The image is %(width)s×%(height)s: %(mode)s takes images whose width divided by "
        "height is between %(low)s and %(high)s."
    ),
    "template_required": _("Choose a camera movement."),
    "template_choice": _("Choose a camera movement from the list."),
    "strength_choice": _("Choose a camera strength from the list."),
    "camera_unused": _("Camera movement is only used by the camera-movement mode."),
    "seed_range": _("The seed is -1 (random) or a whole number from 0 to 4294967295."),
    "seed_unused": _("%(mode)s picks its own seed: leave the seed at -1."),
    "audio_unused": _("%(mode)s makes no sound."),
    "draft_unused": _("%(mode)s makes no drafts."),
    "draft_resolution": _("A draft is always 480p."),
    "references_unused": _("%(mode)s takes no reference images."),
    "references_too_many": _("%(mode)s takes at most %(count)s reference images."),
    "camera_fixed_unused": _("%(mode)s cannot keep the camera fixed."),
    "ark_only": _("This option is only for the Seedance models on Ark."),
    "mode_choice": _("There is no mode %(value)s."),
    "variants_range": _("Choose 1 to 4 videos."),
    "variants_refused": _("%(why)s"),
}


def problem_message(problem: Problem, mode: catalog.Mode | None) -> str:
    """A problem in words for people (the mode by its name, not its id)."""
    params = dict(problem.params)
    if mode is not None:
        params["mode"] = mode_label(mode.name)
    return str(PROBLEM_MESSAGES[problem.code] % params)


IMAGE_MESSAGES = {
    "empty": _("The file is empty."),
    "too_large": _("The file is larger than 20 MB."),
    "format": _("Use a JPEG, PNG or WebP image."),
    "animated": _("Animated images are not accepted; use a still image."),
    "bomb": _("The image has too many pixels to be processed safely."),
    "not_image": _("The file is not a JPEG, PNG or WebP image."),
    "truncated": _("The image is damaged or incomplete."),
    "ratio": _(
        "The image is too long and thin: its long side may be at most 3 times its short side."
    ),
}


PROBLEM_FIELDS = {"images": "first_image", "tail_image": "last_image", "duration": "duration"}


PROVIDER_GROUPS = {
    catalog.Provider.VOLCENGINE: _("Jimeng (Volcengine)"),
    catalog.Provider.GATEWAY: _("Gateway models"),
    catalog.Provider.ARK: _("Seedance on Ark"),
}


def _mode_choices(modes: list[catalog.Mode]) -> list[tuple[str, Any]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for mode in modes:
        group = str(PROVIDER_GROUPS[mode.provider])
        groups.setdefault(group, []).append((mode.name, str(mode_label(mode.name))))
    return list(groups.items())


def duration_label(seconds: int) -> str:
    if seconds == catalog.AUTO_DURATION:
        return str(_("Auto (the model picks)"))
    return str(_("%(n)s seconds") % {"n": seconds})


class GenerateForm(forms.Form):
    mode = forms.ChoiceField(label=_("Mode"))
    prompt = forms.CharField(
        label=_("Prompt"),
        required=False,
        max_length=PROMPT_MAX,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 5, "data-prompt": ""}),
        error_messages={
            "max_length": _(
                "The prompt has %(show_value)s characters; at most %(limit_value)s are taken."
            )
        },
    )
    duration = forms.TypedChoiceField(
        label=_("Duration"),
        coerce=int,
        initial=5,
        choices=[
            (catalog.AUTO_DURATION, _("Auto (the model picks)")),
            *[(n, _("%(n)s seconds") % {"n": n}) for n in range(2, 31)],
        ],
    )
    aspect_ratio = forms.ChoiceField(
        label=_("Aspect ratio"),
        required=False,
        choices=[
            ("", "—"),
            *[(r, r) for r in catalog.S20_ASPECT_RATIOS],
            ("adaptive", _("Adaptive (follow the image)")),
        ],
        widget=forms.Select(attrs={"data-adaptive-label": _("Adaptive (follow the image)")}),
    )
    resolution = forms.ChoiceField(
        label=_("Resolution"),
        required=False,
        choices=[("", "—"), *[(r, r) for r in catalog.GATEWAY_RESOLUTIONS]],
    )
    generate_audio = forms.BooleanField(label=_("With sound"), required=False)
    draft = forms.BooleanField(
        label=_("Draft first"),
        required=False,
        help_text=_("A cheap 480p draft; make the final video from it when you like it."),
    )
    references = forms.BooleanField(
        label=_("Use the images as references"),
        required=False,
        help_text=_("Instead of first and last frames: the model draws on them freely."),
    )
    seed = forms.IntegerField(
        label=_("Seed"), required=False, initial=-1, help_text=_("-1 picks a random seed.")
    )
    template_id = forms.ChoiceField(
        label=_("Camera movement"),
        required=False,
        choices=[("", "—"), *CAMERA_DESCRIPTIONS.items()],
    )
    camera_strength = forms.ChoiceField(
        label=_("Camera strength"),
        required=False,
        choices=[("", "—"), *STRENGTH_LABELS.items()],
    )
    first_image = forms.FileField(
        label=_("First frame"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    first_image_url = forms.CharField(
        label=_("…or first frame URL"), required=False, max_length=1000
    )
    last_image = forms.FileField(
        label=_("Last frame"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    last_image_url = forms.CharField(label=_("…or last frame URL"), required=False, max_length=1000)
    variants = forms.TypedChoiceField(
        label=_("Videos"),
        coerce=int,
        required=False,
        initial=1,
        choices=[(n, str(n)) for n in range(1, takes.MAX_VARIANTS + 1)],
        help_text=_("Several takes of one prompt in one go, each charged as a video."),
    )
    vary = forms.ChoiceField(
        label=_("Vary"), required=False, initial=takes.Vary.SEED, choices=takes.Vary.choices
    )
    reuse_images_from = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Frames uploaded with an earlier try that came back with an error (held_frames.py).
    held_frames = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    # Extend: the first frame is the last frame of this ready job.
    extend_from = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        team: Team,
        modes: list[catalog.Mode],
        user_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.user_id = user_id
        # Frames fitted from this request's uploads: kept for the next try on an error.
        self.uploaded: list[Frame] = []
        self.modes = {mode.name: mode for mode in modes}
        set_choices(self, "mode", _mode_choices(modes))
        # No `maxlength` in the page: a browser would cut a long paste without a word. The
        # page counts against the mode's limit and says so; this field refuses the rest.
        self.fields["prompt"].widget.attrs.pop("maxlength", None)
        self.frames: list[Frame] = []
        self.request_input: GenerationInput | None = None
        self.variant_inputs: list[GenerationInput] = []

    @property
    def mode_object(self) -> catalog.Mode:
        return self.modes[self.cleaned_data["mode"]]

    def clean_seed(self) -> int:
        seed = self.cleaned_data.get("seed")
        return -1 if seed is None else seed

    def _url(self, field: str) -> str:
        url = self.cleaned_data.get(field, "").strip()
        if url and urlsplit(url).scheme not in ("http", "https"):
            self.add_error(field, _("Enter an http:// or https:// image address."))
            return ""
        try:
            if url:
                address_rules().check_public_url(url)
        except AddressRefused:
            # Plainly internal (a private or loopback address, localhost): nobody outside
            # could fetch it, so it is refused here rather than becoming a failed job.
            self.add_error(field, PRIVATE_URL_MESSAGE)
            return ""
        return url

    @cached_property
    def held(self) -> dict[int, holding.HeldFrame]:
        """Frames kept from an earlier try of this member, by position."""
        if self.user_id is None:
            return {}
        token = str(self.data.get("held_frames", "")) if self.is_bound else ""
        found = holding.held(self.team.pk, self.user_id, token)
        return {frame.position: frame for frame in found}

    def _held_frame(self, position: int, mode: catalog.Mode) -> Frame | None:
        kept = self.held.get(position)
        if kept is None or position >= mode.max_images:
            return None  # a mode without images ignores them (they stay for a switch back)
        with default_storage.open(kept.name, "rb") as handle:
            data = handle.read()
        upload = SimpleUploadedFile(kept.original_name or kept.name, data)
        try:
            fitted = fit_image(data)
        except ImageRejected:
            return None
        return frame_from_upload(position, upload, fitted, mode)

    def _frames(self, mode: catalog.Mode) -> tuple[list[Frame], list[str]]:
        frames, urls = [], []
        for position, (file_field, url_field) in enumerate(
            (("first_image", "first_image_url"), ("last_image", "last_image_url"))
        ):
            upload, url = self.cleaned_data.get(file_field), self._url(url_field)
            if upload and url:
                self.add_error(url_field, _("Give a file or a URL, not both."))
            elif upload:
                try:
                    fitted = fit_image(upload)
                except ImageRejected as rejection:
                    self.add_error(file_field, IMAGE_MESSAGES[rejection.code])
                    continue
                frame = frame_from_upload(position, upload, fitted, mode)
                self.uploaded.append(frame)
                frames.append(frame)
            elif url:
                urls.append(url)
            else:
                kept = self._held_frame(position, mode)
                if kept is not None:
                    frames.append(kept)
        if not frames and not urls:
            frames = self._earlier_frames()
        return frames, urls

    def _earlier_frames(self) -> list[Frame]:
        """Frames of an earlier job: its last frame (extend), or its own frames (reuse)."""
        jobs = Generation.objects.for_team(self.team)
        if self.extended is not None:
            if not last_frame_of(self.extended):
                self.add_error(None, _("That video has no last frame to continue from."))
                return []
            return [frame_from_last_frame(self.extended)]
        reuse = self.cleaned_data.get("reuse_images_from")
        earlier = jobs.filter(pk=reuse).first() if reuse else None
        return frames_from_generation(earlier) if earlier else []

    @property
    def extended(self) -> Generation | None:
        """The ready job this one continues, if any."""
        source = self.cleaned_data.get("extend_from")
        if not source:
            return None
        return Generation.objects.for_team(self.team).filter(pk=source, status=Status.READY).first()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "mode" not in data or self.errors.get("duration"):
            return data
        mode = self.mode_object
        frames, urls = self._frames(mode)
        if self.errors:
            return data
        self.frames = frames
        priced = priced_input(
            mode,
            seconds=data["duration"],
            resolution=data.get("resolution"),
            aspect_ratio=data.get("aspect_ratio"),
            audio=bool(data.get("generate_audio")),
            draft=bool(data.get("draft")),
        )
        request = replace(
            priced,
            prompt=data.get("prompt", ""),
            seed=data["seed"],
            # Only counted by check_input: the fitted bytes go to storage, not the form.
            images_base64=tuple("…" for _ in frames),
            image_urls=tuple(urls),
            image_ratios=tuple(frame.aspect_ratio for frame in frames),
            image_sizes=tuple((frame.width, frame.height) for frame in frames),
            template_id=(data.get("template_id") or None) if mode.camera else None,
            camera_strength=(data.get("camera_strength") or None) if mode.camera else None,
            references=bool(data.get("references")) and mode.is_ark,
        )
        for problem in check_input(mode, request):
            field = PROBLEM_FIELDS.get(problem.field, problem.field)
            self.add_error(field if field in self.fields else None, problem_message(problem, mode))
        self.request_input = request
        try:
            self.variant_inputs = takes.expand(
                mode, request, data.get("variants") or 1, data.get("vary") or takes.Vary.SEED
            )
        except takes.VariantsRefused as refusal:
            self.add_error("variants", str(refusal))
        return data
