"""Forms for accounts, teams and credentials. Every message is translated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from generations.jimeng import catalog
from generations.jimeng.addresses import AddressRefused
from generations.jimeng.catalog import RatioSource
from generations.jimeng.client import DEFAULT_ENDPOINT
from generations.jimeng.images import FittedImage, ImageRejected, fit_image, nearest_aspect_ratio
from generations.jimeng.payload import GenerationInput, check_input, image_ratio_choices
from generations.models import Credential, CredentialKind, Generation, Role, Team
from generations.upstream import address_rules, allowed_hosts_text


class SignUpForm(UserCreationForm):  # type: ignore[type-arg]
    """Sign-up that does not reveal which emails are registered: an email that already
    belongs to an account is not refused; the new account is made without it and the
    view tells the address's owner (`taken_email`)."""

    email = forms.EmailField(label=_("Email"), help_text=_("For password resets."))

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    taken_email = ""

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            self.taken_email = email
            return ""
        return email


class PasswordResetRequestForm(PasswordResetForm):
    email = forms.EmailField(label=_("Email"), max_length=254)


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "rate_limited": _("Too many sign-in attempts. Wait %(minutes)s minute(s) and try again."),
    }


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=80)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the team a name."))
        return name


def set_choices(form: forms.Form, name: str, choices: Any) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _role_choices(manager_role: str) -> list[tuple[str, Any]]:
    roles = [Role.ADMIN, Role.MEMBER, Role.VIEWER]
    if manager_role == Role.OWNER:
        roles.insert(0, Role.OWNER)
    return [(role.value, role.label) for role in roles]


class InviteForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))
    email = forms.EmailField(label=_("Email (optional)"), required=False)

    def __init__(self, *args: Any, manager_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "role", _role_choices(manager_role))
        self.fields["role"].initial = Role.MEMBER


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args: Any, manager_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "role", _role_choices(manager_role))


def check_endpoint(value: str) -> str:
    """An API address keys may be sent to: http(s), no credentials in it, and a host the
    address rules allow (docs/security.md)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise forms.ValidationError(_("Enter an http:// or https:// address."))
    if parts.username or parts.password:
        raise forms.ValidationError(_("Put keys in the key fields, not in the address."))
    try:
        address_rules().check_api_url(value)
    except AddressRefused:
        raise forms.ValidationError(
            _(
                "Keys can only be sent to the official API hosts or to hosts the operator "
                "allowed: %(hosts)s."
            )
            % {"hosts": allowed_hosts_text()}
        ) from None
    return value.strip()


class CredentialForm(forms.ModelForm):  # type: ignore[type-arg]
    """The one way keys are saved, from the team's Keys page and from the admin.

    Secrets are write-only: a saved secret is never rendered back into the form. Moving
    a key to another address or kind needs the secret typed again, so nobody can send a
    stored key somewhere new without knowing it.
    """

    access_key = forms.CharField(
        label=_("Access key ID (AK)"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    secret = forms.CharField(
        label=_("Secret access key (SK) or Bearer key"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    endpoint = forms.CharField(label=_("Endpoint"), max_length=300, required=False)

    class Meta:
        model = Credential
        fields = ("kind", "label", "endpoint", "max_qps", "is_default")
        widgets = {"kind": forms.RadioSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = self.instance.pk is not None
        if self.editing:
            if "kind" in self.fields and self.lock_kind:
                self.fields["kind"].disabled = True
            keep = _("Leave empty to keep the saved key (not when the endpoint changes).")
            self.fields["secret"].help_text = keep
            self.fields["access_key"].help_text = keep
        self.fields["endpoint"].help_text = _(
            "Volcengine: %(default)s (the default). Gateway: its base URL."
        ) % {"default": DEFAULT_ENDPOINT}
        self.fields["max_qps"].widget.attrs.update({"min": "0.1", "step": "0.1"})

    lock_kind = True

    def clean_endpoint(self) -> str:
        value = self.cleaned_data.get("endpoint", "").strip()
        kind = self.cleaned_data.get("kind") or self.instance.kind
        if not value:
            if kind == CredentialKind.GATEWAY:
                raise forms.ValidationError(_("A gateway needs its base URL."))
            return DEFAULT_ENDPOINT
        return check_endpoint(value)

    def clean_max_qps(self) -> float | None:
        value = self.cleaned_data.get("max_qps")
        if value is not None and value <= 0:
            raise forms.ValidationError(_("Use a number above 0, or leave it empty."))
        return value

    def _moves_the_key(self) -> bool:
        return self.editing and bool({"endpoint", "kind"} & set(self.changed_data))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind") or self.instance.kind
        access_key = (data.get("access_key") or "").strip()
        secret = (data.get("secret") or "").strip()
        data["access_key"], data["secret"] = access_key, secret
        moved = self._moves_the_key()
        if (not self.editing or moved or access_key) and not secret:
            self.add_error(
                "secret",
                _("The endpoint or kind changed: enter the key again to use it there.")
                if moved
                else _("Enter the secret key."),
            )
        if (not self.editing or secret) and kind == CredentialKind.VOLCENGINE and not access_key:
            self.add_error("access_key", _("Enter the access key ID."))
        if kind == CredentialKind.GATEWAY and access_key:
            self.add_error("access_key", _("A gateway key has no access key ID; leave it empty."))
        return data

    def save(self, commit: bool = True) -> Credential:
        credential: Credential = super().save(commit=False)
        secret = self.cleaned_data["secret"]
        if secret:
            credential.set_secrets(access_key=self.cleaned_data["access_key"], secret=secret)
        if commit:
            credential.save()
        return credential


class TopUpForm(forms.Form):
    amount_cny = forms.DecimalField(
        label=_("Extra CNY this month"),
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        initial=Decimal("0"),
    )
    seconds = forms.IntegerField(label=_("Extra video seconds this month"), min_value=0, initial=0)
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("amount_cny") and not data.get("seconds"):
            raise forms.ValidationError(_("Grant some CNY or some seconds."))
        return data


class SuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


# --- generating ---------------------------------------------------------------------

PROBLEM_MESSAGES = {
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
    "template_required": _("Choose a camera movement."),
    "template_choice": _("Choose a camera movement from the list."),
    "strength_choice": _("Choose a camera strength from the list."),
    "camera_unused": _("Camera movement is only used by the camera-movement mode."),
    "seed_range": _("The seed is -1 (random) or a whole number from 0 to 4294967295."),
}

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

CAMERA_DESCRIPTIONS = {
    "hitchcock_dolly_in": _("Hitchcock zoom in: the subject stays, the background rushes away"),
    "hitchcock_dolly_out": _("Hitchcock zoom out: the subject stays, the background closes in"),
    "robo_arm": _("Robotic arm: a smooth, swooping mechanical move"),
    "dynamic_orbit": _("Dynamic orbit: circle the subject with energy"),
    "central_orbit": _("Central orbit: a steady circle around the centre"),
    "crane_push": _("Crane push: rise and move in"),
    "quick_pull_back": _("Quick pull back: pull away fast to reveal the scene"),
    "counterclockwise_swivel": _("Counter-clockwise swivel"),
    "clockwise_swivel": _("Clockwise swivel"),
    "handheld": _("Handheld: natural, slightly shaky"),
    "rapid_push_pull": _("Rapid push-pull: in and out quickly"),
}
STRENGTH_LABELS = {"weak": _("Weak"), "medium": _("Medium"), "strong": _("Strong")}


# File extensions by the format Pillow found in the bytes, never by the uploaded name.
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class Frame:
    """An image for a new generation: where its original comes from and its fitted bytes.

    The extensions are those of the formats found in the bytes: an upload called
    `x.html` that is a PNG is stored as `.png` (and served as an image).
    """

    position: int
    open_original: Callable[[], IO[bytes]]
    original_name: str
    original_extension: str
    fitted: bytes
    fitted_extension: str
    width: int
    height: int
    aspect_ratio: str


def _frame_from_upload(
    position: int, upload: UploadedFile, fitted: FittedImage, mode: catalog.Mode
) -> Frame:
    def reopen() -> IO[bytes]:
        upload.seek(0)
        return upload  # type: ignore[return-value]

    ratio = nearest_aspect_ratio(fitted.width, fitted.height, image_ratio_choices(mode))
    return Frame(
        position,
        reopen,
        upload.name or "upload",
        EXTENSIONS[fitted.original_format],
        fitted.data,
        fitted.extension,
        fitted.width,
        fitted.height,
        ratio,
    )


def _opener(name: str) -> Callable[[], IO[bytes]]:
    def open_original() -> IO[bytes]:
        return default_storage.open(name, "rb")

    return open_original


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1] if "." in name else "bin"


def frames_from_generation(generation: Generation) -> list[Frame]:
    """The frames of an earlier generation, to run it again."""
    frames = []
    for image in generation.images.order_by("position"):
        with default_storage.open(image.fitted.name or "", "rb") as handle:
            fitted = handle.read()
        frames.append(
            Frame(
                image.position,
                _opener(image.original.name or ""),
                image.original_name,
                _extension(image.original.name or ""),
                fitted,
                _extension(image.fitted.name or ""),
                image.width,
                image.height,
                image.aspect_ratio,
            )
        )
    return frames


def _mode_choices(modes: list[catalog.Mode]) -> list[tuple[str, Any]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for mode in modes:
        group = str(_("Gateway models")) if mode.is_gateway else str(_("Jimeng (Volcengine)"))
        groups.setdefault(group, []).append((mode.name, mode.label))
    return list(groups.items())


class GenerateForm(forms.Form):
    mode = forms.ChoiceField(label=_("Mode"))
    prompt = forms.CharField(
        label=_("Prompt"),
        required=False,
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 5, "data-prompt": ""}),
    )
    duration = forms.TypedChoiceField(
        label=_("Duration"),
        coerce=int,
        initial=5,
        choices=[(n, _("%(n)s seconds") % {"n": n}) for n in range(2, 13)],
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
    reuse_images_from = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, team: Team, modes: list[catalog.Mode], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.modes = {mode.name: mode for mode in modes}
        set_choices(self, "mode", _mode_choices(modes))
        self.frames: list[Frame] = []
        self.request_input: GenerationInput | None = None

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
        return url

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
                frames.append(_frame_from_upload(position, upload, fitted, mode))
            elif url:
                urls.append(url)
        reuse = self.cleaned_data.get("reuse_images_from")
        if reuse and not frames and not urls:
            earlier = Generation.objects.for_team(self.team).filter(pk=reuse).first()
            frames = frames_from_generation(earlier) if earlier else []
        return frames, urls

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "mode" not in data or self.errors.get("duration"):
            return data
        mode = self.mode_object
        frames, urls = self._frames(mode)
        if self.errors:
            return data
        self.frames = frames
        request = GenerationInput(
            prompt=data.get("prompt", ""),
            seconds=data["duration"],
            aspect_ratio=None
            if mode.ratio_source == RatioSource.IMAGE
            else (data.get("aspect_ratio") or None),
            seed=data["seed"],
            # Only counted by check_input: the fitted bytes go to storage, not the form.
            images_base64=tuple("…" for _ in frames),
            image_urls=tuple(urls),
            image_ratios=tuple(frame.aspect_ratio for frame in frames),
            template_id=(data.get("template_id") or None) if mode.camera else None,
            camera_strength=(data.get("camera_strength") or None) if mode.camera else None,
            resolution=(data.get("resolution") or None) if mode.is_gateway else None,
        )
        for problem in check_input(mode, request):
            field = PROBLEM_FIELDS.get(problem.field, problem.field)
            self.add_error(
                field if field in self.fields else None,
                PROBLEM_MESSAGES[problem.code] % problem.params,
            )
        self.request_input = request
        return data


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
        from generations.models import Membership, Status

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
