"""What a person asks for, checked against the catalog and turned into a request body.

`check_input` is where the rules for user input live. It returns problems as codes
with parameters, not sentences, so the command line can print them in English and the
web forms can show them translated, from the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from generations.jimeng.catalog import (
    ASPECT_RATIOS,
    CAMERA_STRENGTHS,
    CAMERA_TEMPLATES,
    DRAFT_RESOLUTION,
    Mode,
    RatioSource,
    describe_durations,
)


@dataclass(frozen=True)
class GenerationInput:
    prompt: str = ""
    seconds: int = 5
    aspect_ratio: str | None = None
    seed: int = -1
    # Fitted images as bare base64 (no data: prefix), or URLs; never both.
    images_base64: tuple[str, ...] = ()
    image_urls: tuple[str, ...] = ()
    # The nearest allowed ratio of each uploaded image, in order (first, last), and its
    # size in pixels (what the upstream's ratio limits are checked on).
    image_ratios: tuple[str, ...] = ()
    image_sizes: tuple[tuple[int, int], ...] = ()
    template_id: str | None = None
    camera_strength: str | None = None
    resolution: str | None = None  # gateway and Ark models
    # Ark only (docs/upstream/ark.md): sound, a cheap 480p draft, the final video of a
    # succeeded draft, the images as references instead of first/last frames.
    generate_audio: bool = False
    draft: bool = False
    draft_task_id: str | None = None
    references: bool = False
    camera_fixed: bool = False

    @property
    def image_count(self) -> int:
        return len(self.images_base64) or len(self.image_urls)


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    params: Mapping[str, Any] = dataclass_field(default_factory=dict)

    @property
    def message(self) -> str:
        return ENGLISH[self.code].format(**self.params)


ENGLISH = {
    "prompt_required": "a prompt is required for {mode}",
    "prompt_or_image": "{mode} needs a prompt or an image",
    "prompt_too_long": "the prompt has {length} characters; {mode} takes at most {limit}",
    "prompt_control": "the prompt contains control characters",
    "duration_choice": "{mode} makes videos of {choices} seconds, not {value}",
    "ratio_choice": "aspect ratio {value} is not offered by {mode}; choose one of {choices}",
    "ratio_ignored": "{mode} takes its aspect ratio from the image; leave the aspect ratio out",
    "adaptive_needs_image": "{mode} takes 'adaptive' only with an image",
    "resolution_choice": "resolution {value} is not offered by {mode}; choose one of {choices}",
    "resolution_unused": "only gateway and Ark models take a resolution",
    "images_missing": "{mode} needs {count} image(s)",
    "images_too_many": "{mode} takes at most {count} image(s)",
    "images_unused": "{mode} does not take images",
    "tail_unused": "a last frame is only used by the first + last frame modes",
    "images_mixed": "send the images either all as files or all as URLs",
    "ratio_mismatch": "the first frame is {first} and the last frame is {last}; "
    "both frames must have the same aspect ratio",
    "image_ratio": "the image is {width}×{height}; {mode} takes images whose width/height "
    "is between {low} and {high}",
    "template_required": "{mode} needs a camera template; choose one of {choices}",
    "template_choice": "camera template {value} is unknown; choose one of {choices}",
    "strength_choice": "camera strength {value} is unknown; choose one of {choices}",
    "camera_unused": "camera template and strength are only used by i2v_recamera_720p",
    "seed_range": "the seed must be -1 (random) or a whole number from 0 to 4294967295",
    "seed_unused": "{mode} picks its own seed; leave the seed at -1",
    "audio_unused": "{mode} makes no sound",
    "draft_unused": "{mode} makes no drafts",
    "draft_resolution": "a draft is always 480p",
    "references_unused": "{mode} takes no reference images",
    "references_too_many": "{mode} takes at most {count} reference images",
    "camera_fixed_unused": "{mode} cannot keep the camera fixed (or not with references)",
    "ark_only": "{option} is only for Ark models",
}

SEED_MAX = 2**32 - 1


def _has_control_characters(text: str) -> bool:
    return any((ord(ch) < 32 and ch not in "\n\t\r") or ord(ch) == 127 for ch in text)


def check_input(mode: Mode, request: GenerationInput) -> list[Problem]:
    """Every problem with `request` for `mode`; an empty list means it can be sent."""
    if request.draft_task_id:  # the final of a draft: everything else is the draft's
        return _check_ark_options(mode, request)
    problems = [
        *_check_prompt(mode, request),
        *_check_duration(mode, request),
        *_check_ratio(mode, request),
        *_check_images(mode, request),
        *_check_camera(mode, request),
        *_check_ark_options(mode, request),
    ]
    if not (request.seed == -1 or 0 <= request.seed <= SEED_MAX):
        problems.append(Problem("seed", "seed_range"))
    return problems


def _check_ark_options(mode: Mode, request: GenerationInput) -> list[Problem]:
    ark, name = mode.ark, {"mode": mode.name}
    if ark is None:
        used = [
            option
            for option, value in (
                ("generate_audio", request.generate_audio),
                ("draft", request.draft or request.draft_task_id),
                ("references", request.references),
                ("camera_fixed", request.camera_fixed),
            )
            if value
        ]
        return [Problem(option, "ark_only", {"option": option}) for option in used]
    problems = []
    if request.generate_audio and not ark.audio:
        problems.append(Problem("generate_audio", "audio_unused", name))
    if request.draft and not ark.draft:
        problems.append(Problem("draft", "draft_unused", name))
    elif request.draft and request.resolution not in (None, DRAFT_RESOLUTION):
        problems.append(Problem("resolution", "draft_resolution"))
    if request.seed != -1 and not ark.seed:
        problems.append(Problem("seed", "seed_unused", name))
    if request.camera_fixed and (not ark.camera_fixed or request.references):
        problems.append(Problem("camera_fixed", "camera_fixed_unused", name))
    return problems


def _check_prompt(mode: Mode, request: GenerationInput) -> list[Problem]:
    prompt = request.prompt
    if mode.prompt_required and not prompt.strip():
        return [Problem("prompt", "prompt_required", {"mode": mode.name})]
    if mode.name == "ti2v_pro" and not prompt.strip() and not request.image_count:
        return [Problem("prompt", "prompt_or_image", {"mode": mode.name})]
    if len(prompt) > mode.prompt_limit:
        params = {"mode": mode.name, "length": len(prompt), "limit": mode.prompt_limit}
        return [Problem("prompt", "prompt_too_long", params)]
    if _has_control_characters(prompt):
        return [Problem("prompt", "prompt_control")]
    return []


def _check_duration(mode: Mode, request: GenerationInput) -> list[Problem]:
    if request.seconds in mode.durations:
        return []
    params = {"mode": mode.name, "choices": describe_durations(mode), "value": request.seconds}
    return [Problem("duration", "duration_choice", params)]


def _check_ratio(mode: Mode, request: GenerationInput) -> list[Problem]:
    problems: list[Problem] = []
    ratio = request.aspect_ratio
    if mode.takes_resolution:
        if request.resolution and request.resolution not in mode.resolutions:
            params = {
                "mode": mode.name,
                "value": request.resolution,
                "choices": ", ".join(mode.resolutions),
            }
            problems.append(Problem("resolution", "resolution_choice", params))
        if ratio == "adaptive" and not request.image_count and not mode.adaptive_for_text:
            problems.append(Problem("aspect_ratio", "adaptive_needs_image", {"mode": mode.name}))
    elif request.resolution:
        problems.append(Problem("resolution", "resolution_unused"))
    if ratio is None:
        return problems
    if mode.ratio_source == RatioSource.IMAGE:
        problems.append(Problem("aspect_ratio", "ratio_ignored", {"mode": mode.name}))
    elif ratio not in mode.aspect_ratios:
        params = {"mode": mode.name, "value": ratio, "choices": ", ".join(mode.aspect_ratios)}
        problems.append(Problem("aspect_ratio", "ratio_choice", params))
    return problems


def _check_images(mode: Mode, request: GenerationInput) -> list[Problem]:
    count = request.image_count
    if request.images_base64 and request.image_urls:
        return [Problem("images", "images_mixed")]
    if request.references:
        return _check_references(mode, count) or _check_image_sizes(mode, request)
    if count and not mode.uses_images:
        return [Problem("images", "images_unused", {"mode": mode.name})]
    if count < mode.min_images:
        field_name = "tail_image" if count == 1 and mode.min_images == 2 else "images"
        return [
            Problem(field_name, "images_missing", {"mode": mode.name, "count": mode.min_images})
        ]
    if count > mode.max_images:
        if count == 2 and mode.max_images == 1:
            return [Problem("tail_image", "tail_unused")]
        return [Problem("images", "images_too_many", {"mode": mode.name, "count": mode.max_images})]
    ratios = request.image_ratios
    if mode.min_images == 2 and len(ratios) == 2 and ratios[0] != ratios[1]:
        return [Problem("tail_image", "ratio_mismatch", {"first": ratios[0], "last": ratios[1]})]
    return _check_image_sizes(mode, request)


def _check_image_sizes(mode: Mode, request: GenerationInput) -> list[Problem]:
    rules = mode.image_rules
    problems = []
    for position, (width, height) in enumerate(request.image_sizes):
        if rules.allows(width, height):
            continue
        params = {
            "mode": mode.name,
            "width": width,
            "height": height,
            "low": f"{rules.min_ratio:.2f}".rstrip("0").rstrip("."),
            "high": f"{rules.max_ratio:.2f}".rstrip("0").rstrip("."),
        }
        field_name = "tail_image" if position == 1 else "images"
        problems.append(Problem(field_name, "image_ratio", params))
    return problems


def _check_references(mode: Mode, count: int) -> list[Problem]:
    most = mode.ark.references if mode.ark else 0
    if not most:
        return [Problem("images", "references_unused", {"mode": mode.name})]
    if count > most:
        return [Problem("images", "references_too_many", {"mode": mode.name, "count": most})]
    if not count:
        return [Problem("images", "images_missing", {"mode": mode.name, "count": 1})]
    return []


def _check_camera(mode: Mode, request: GenerationInput) -> list[Problem]:
    if not mode.camera:
        if request.template_id or request.camera_strength:
            return [Problem("template_id", "camera_unused")]
        return []
    problems = []
    templates = ", ".join(CAMERA_TEMPLATES)
    if not request.template_id:
        params = {"mode": mode.name, "choices": templates}
        problems.append(Problem("template_id", "template_required", params))
    elif request.template_id not in CAMERA_TEMPLATES:
        params = {"value": request.template_id, "choices": templates}
        problems.append(Problem("template_id", "template_choice", params))
    strength = request.camera_strength
    if strength and strength not in CAMERA_STRENGTHS:
        params = {"value": strength, "choices": ", ".join(CAMERA_STRENGTHS)}
        problems.append(Problem("camera_strength", "strength_choice", params))
    return problems


def build_body(mode: Mode, request: GenerationInput) -> dict[str, Any]:
    """The JSON body for the upstream submit call. Assumes check_input found nothing."""
    if mode.is_gateway:
        return _gateway_body(mode, request)
    if mode.is_ark:
        return _ark_body(mode, request)
    body: dict[str, Any] = {"req_key": mode.req_key}
    if request.prompt:
        body["prompt"] = request.prompt
    body["seed"] = request.seed
    if mode.sends_frames:
        body["frames"] = mode.frames(request.seconds)
    ratio = _ratio_to_send(mode, request)
    if ratio:
        body["aspect_ratio"] = ratio
    if request.images_base64:
        body["binary_data_base64"] = list(request.images_base64)
    elif request.image_urls:
        body["image_urls"] = list(request.image_urls)
    if mode.camera:
        body["template_id"] = request.template_id
        body["camera_strength"] = request.camera_strength or "medium"
    return body


def _ratio_to_send(mode: Mode, request: GenerationInput) -> str | None:
    if mode.ratio_source == RatioSource.IMAGE:
        return None
    if mode.ratio_source == RatioSource.IMAGE_SENT:
        detected = request.image_ratios[0] if request.image_ratios else None
        return request.aspect_ratio or detected
    if request.image_count:  # ti2v_pro with an image: the ratio follows the image
        return None
    return request.aspect_ratio or "16:9"


def _gateway_body(mode: Mode, request: GenerationInput) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": mode.req_key,
        "prompt": request.prompt,
        "duration": request.seconds,
        "resolution": request.resolution or "720p",
        "size": request.aspect_ratio or ("adaptive" if request.image_count else "16:9"),
        "metadata": json.dumps({"seed": request.seed}, separators=(",", ":")),
    }
    images = [f"data:{_mime_of_base64(data)};base64,{data}" for data in request.images_base64]
    images += list(request.image_urls)
    if images:
        body["images"] = images
    return body


def _ark_body(mode: Mode, request: GenerationInput) -> dict[str, Any]:
    """docs/upstream/ark.md. Unset options are left out rather than sent as null. The
    pipeline adds what belongs to the job: callback_url, safety_identifier."""
    assert mode.ark is not None
    ark = mode.ark
    body: dict[str, Any] = {"model": mode.req_key}
    if request.draft_task_id:
        body["content"] = [{"type": "draft_task", "draft_task": {"id": request.draft_task_id}}]
    else:
        body["content"] = _ark_content(request)
        body["duration"] = request.seconds
        body["ratio"] = request.aspect_ratio or ("adaptive" if request.image_count else "16:9")
        if ark.seed:
            body["seed"] = request.seed
        if request.camera_fixed:
            body["camera_fixed"] = True
    body["resolution"] = (
        DRAFT_RESOLUTION if request.draft else request.resolution or ark.default_resolution
    )
    if ark.audio:
        body["generate_audio"] = request.generate_audio
    if request.draft:
        body["draft"] = True
    else:
        body["return_last_frame"] = True  # the next part of a chain starts from it
    return body


def _ark_content(request: GenerationInput) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if request.prompt:
        content.append({"type": "text", "text": request.prompt})
    urls = [f"data:{_mime_of_base64(data)};base64,{data}" for data in request.images_base64]
    urls += list(request.image_urls)
    if request.references:
        roles = ["reference_image"] * len(urls)
    else:
        roles = ["first_frame", "last_frame"][: len(urls)]
    content += [
        {"type": "image_url", "image_url": {"url": url}, "role": role}
        for url, role in zip(urls, roles, strict=True)
    ]
    return content


def _mime_of_base64(data: str) -> str:
    # "iVBORw0KGgo" is the base64 of PNG's signature; everything we fit is PNG or JPEG.
    return "image/png" if data.startswith("iVBORw0KGgo") else "image/jpeg"


def image_ratio_choices(mode: Mode) -> tuple[str, ...]:
    """The ratios an uploaded image is matched against for this mode."""
    if mode.ratio_source == RatioSource.IMAGE_SENT:
        return mode.aspect_ratios
    return ASPECT_RATIOS
