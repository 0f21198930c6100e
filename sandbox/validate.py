"""Check a submit body the way the upstream does, per req_key
(docs/upstream/volcengine-visual.md, docs/upstream/gateway.md).

This is written from the contract, separately from the studio's own input checks, so
that a mistake in the studio's request building shows up as an emulator refusal
instead of being agreed with.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from generations.jimeng.catalog import (
    CAMERA_STRENGTHS,
    CAMERA_TEMPLATES,
    GATEWAY_SIZES,
    SIZES_720P,
    SIZES_1080P,
)

RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
S20_RATIOS = (*RATIOS, "9:21")
IMAGE_MAX_BYTES = 4_700_000
IMAGE_MAX_SIDE = 4096
IMAGE_MIN_SHORT = 320
IMAGE_MAX_RATIO = 3.0


@dataclass
class Refusal(Exception):
    """An answer other than success: HTTP status, business code, message."""

    http_status: int
    code: int | str  # a business code for Volcengine, an error code word for the gateway
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)


def invalid(message: str) -> Refusal:
    return Refusal(400, 50200, message)


def missing(field: str) -> Refusal:
    return Refusal(400, 50201, f"missing required field: {field}")


@dataclass(frozen=True)
class Spec:
    fields: frozenset[str]
    images: tuple[int, int] = (0, 0)
    prompt_required: bool = True
    prompt_limit: int = 800
    ratios: tuple[str, ...] = ()
    sizes: Any = field(default_factory=lambda: SIZES_720P)
    # S2.0 image to video sends the ratio picked from the image; the other
    # image modes follow the first frame and take no ratio.
    ratio_sent_with_image: bool = False


_T2V = frozenset({"req_key", "prompt", "seed", "frames", "aspect_ratio"})
_I2V = frozenset({"req_key", "prompt", "seed", "frames", "binary_data_base64", "image_urls"})

SPECS: dict[str, Spec] = {
    "jimeng_t2v_v30": Spec(_T2V, ratios=RATIOS),
    "jimeng_t2v_v30_1080p": Spec(_T2V, ratios=RATIOS, sizes=SIZES_1080P),
    "jimeng_i2v_first_v30": Spec(_I2V, (1, 1), prompt_required=False),
    "jimeng_i2v_first_v30_1080": Spec(_I2V, (1, 1), prompt_required=False, sizes=SIZES_1080P),
    "jimeng_i2v_first_tail_v30": Spec(_I2V, (2, 2), prompt_required=False),
    "jimeng_i2v_first_tail_v30_1080": Spec(_I2V, (2, 2), prompt_required=False, sizes=SIZES_1080P),
    "jimeng_i2v_recamera_v30": Spec(
        _I2V | {"template_id", "camera_strength"}, (1, 1), prompt_required=False
    ),
    "jimeng_ti2v_v30_pro": Spec(
        _T2V | _I2V, (0, 1), prompt_required=False, ratios=RATIOS, sizes=SIZES_1080P
    ),
    "jimeng_vgfm_t2v_l20": Spec(
        frozenset({"req_key", "prompt", "seed", "aspect_ratio"}),
        prompt_limit=150,
        ratios=S20_RATIOS,
    ),
    "jimeng_vgfm_i2v_l20": Spec(
        frozenset(
            {"req_key", "prompt", "seed", "aspect_ratio", "binary_data_base64", "image_urls"}
        ),
        (1, 1),
        prompt_limit=150,
        ratios=S20_RATIOS,
        ratio_sent_with_image=True,
    ),
}
SPECS["jimeng_t2v_v30_pro"] = SPECS["jimeng_ti2v_v30_pro"]  # the seed's older name


@dataclass(frozen=True)
class Accepted:
    req_key: str
    prompt: str
    width: int
    height: int
    frames: int
    images: list[bytes]


def nearest_ratio(width: int, height: int, choices: tuple[str, ...] = RATIOS) -> str:
    actual = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - actual)

    return min(choices, key=distance)


def check_image(data: bytes, label: str) -> tuple[int, int]:
    """The upstream's image limits; returns the image's size.

    The size comes from the file's header and is checked before any pixel is decoded:
    a small file can declare a huge image, and decoding it first would take gigabytes.
    """
    if len(data) > IMAGE_MAX_BYTES:
        raise invalid(f"{label}: image is {len(data)} bytes; the limit is 4.7 MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            if image.format not in ("JPEG", "PNG"):
                raise invalid(f"{label}: {image.format} images are not accepted; use JPEG or PNG")
            width, height = image.size
            _check_size(width, height, label)
            image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise invalid(f"{label}: not a readable JPEG or PNG image") from None
    return width, height


def _check_size(width: int, height: int, label: str) -> None:
    if max(width, height) > IMAGE_MAX_SIDE:
        raise invalid(f"{label}: image is {width}x{height}; at most 4096 px a side")
    if min(width, height) < IMAGE_MIN_SHORT:
        raise invalid(f"{label}: image is {width}x{height}; the short side must be at least 320 px")
    if max(width, height) / min(width, height) > IMAGE_MAX_RATIO:
        raise invalid(f"{label}: image is {width}x{height}; long:short must be at most 3")


# Reads the image an `image_urls` entry names (url, label) -> bytes, or raises Refusal.
ImageFetcher = Callable[[str, str], bytes]


def no_fetching(url: str, label: str) -> bytes:
    raise invalid(f"{label}: the sandbox does not download image URLs")


def decode_base64(value: Any, label: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise invalid(f"{label}: must be a non-empty base64 string")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{label}: not valid base64") from None


def _images(body: dict[str, Any], spec: Spec, fetch: ImageFetcher) -> list[tuple[str, bytes]]:
    has_base64, has_urls = "binary_data_base64" in body, "image_urls" in body
    if has_base64 and has_urls:
        raise invalid("send binary_data_base64 or image_urls, not both")
    field = "binary_data_base64" if has_base64 else "image_urls"
    values = body.get(field, [])
    if not isinstance(values, list):
        raise invalid(f"{field} must be an array")
    low, high = spec.images
    if len(values) < low:
        if not values:
            raise missing("binary_data_base64 or image_urls")
        raise invalid(f"{field} must hold {low} image(s), not {len(values)}")
    if len(values) > high:
        raise invalid(f"{field} holds at most {high} image(s), not {len(values)}")
    labels = [f"{field}[{index}]" for index in range(len(values))]
    if has_base64:
        return [(label, decode_base64(v, label)) for label, v in zip(labels, values, strict=True)]
    return [(label, fetch(str(v), label)) for label, v in zip(labels, values, strict=True)]


def _prompt(body: dict[str, Any], spec: Spec, has_images: bool) -> str:
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise invalid("prompt must be a string")
    if spec.prompt_required and not prompt.strip():
        raise missing("prompt")
    if not prompt.strip() and not has_images and spec.images[1] and not spec.images[0]:
        raise missing("prompt (or an image)")
    if len(prompt) > spec.prompt_limit:
        raise invalid(f"prompt has {len(prompt)} characters; at most {spec.prompt_limit}")
    return prompt


def _int_field(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{field} must be an integer")
    return value


def check_volcengine(
    body: Any, *, text_risk_marker: str, fetch: ImageFetcher = no_fetching
) -> Accepted:
    if not isinstance(body, dict):
        raise Refusal(400, 50204, "the body must be a JSON object")
    req_key = body.get("req_key")
    if not req_key:
        raise missing("req_key")
    spec = SPECS.get(str(req_key))
    if spec is None:
        raise invalid(f"req_key {req_key!r} is not supported")
    unknown = sorted(set(body) - spec.fields)
    if unknown:
        raise invalid(f"{', '.join(unknown)} not accepted by {req_key}")
    labelled = _images(body, spec, fetch) if spec.images[1] else []
    images = [data for _, data in labelled]
    prompt = _prompt(body, spec, bool(images))
    if text_risk_marker and text_risk_marker in prompt:
        raise Refusal(400, 50412, "Text Risk Not Pass")
    seed = _int_field(body, "seed")
    if seed is not None and seed < -1:
        raise invalid("seed must be -1 or a non-negative integer")
    frames = _int_field(body, "frames")
    if frames is not None and frames not in (121, 241):
        raise invalid(f"frames must be 121 or 241, not {frames}")
    sizes = [check_image(data, label) for label, data in labelled]
    ratio = _output_ratio(body, spec, sizes)
    if str(req_key) == "jimeng_i2v_recamera_v30":
        _check_camera(body)
    width, height = spec.sizes[ratio]
    return Accepted(str(req_key), prompt, width, height, frames or 121, images)


def _output_ratio(body: dict[str, Any], spec: Spec, sizes: list[tuple[int, int]]) -> str:
    ratio = body.get("aspect_ratio")
    if ratio is not None and ratio not in spec.ratios:
        raise invalid(f"aspect_ratio must be one of {', '.join(spec.ratios)}, not {ratio!r}")
    if not sizes:
        return str(ratio or "16:9")
    detected = [nearest_ratio(w, h) for w, h in sizes]
    if len(detected) == 2 and detected[0] != detected[1]:
        raise invalid(
            "first and last frames must have the same aspect ratio"
            f" ({detected[0]} vs {detected[1]})"
        )
    if spec.ratio_sent_with_image:
        return str(ratio) if ratio else nearest_ratio(*sizes[0], choices=spec.ratios)
    return detected[0]


def _check_camera(body: dict[str, Any]) -> None:
    template = body.get("template_id")
    if not template:
        raise missing("template_id")
    if template not in CAMERA_TEMPLATES:
        raise invalid(f"template_id must be one of {', '.join(CAMERA_TEMPLATES)}")
    strength = body.get("camera_strength")
    if strength is not None and strength not in CAMERA_STRENGTHS:
        raise invalid(f"camera_strength must be one of {', '.join(CAMERA_STRENGTHS)}")


# --- the gateway (docs/upstream/gateway.md) -----------------------------------------

GATEWAY_MODELS = {
    # model: (takes text-only requests, takes images, shortest duration)
    "doubao-seedance-1-0-pro-250528": (True, True, 2),
    "doubao-seedance-1-0-pro-fast-251015": (True, True, 2),
    "doubao-seedance-1-0-lite-t2v-250428": (True, False, 2),
    "doubao-seedance-1-0-lite-i2v-250428": (False, True, 2),
    "doubao-seedance-1-5-pro": (True, True, 4),
}


def gateway_error(status: int, message: str, code: str = "invalid_request") -> Refusal:
    return Refusal(status, code, message)


def check_gateway(
    body: Any, *, text_risk_marker: str, fetch: ImageFetcher = no_fetching
) -> Accepted:
    if not isinstance(body, dict):
        raise gateway_error(400, "the body must be a JSON object")
    model = body.get("model")
    if model not in GATEWAY_MODELS:
        raise gateway_error(400, f"model {model!r} is not available", "model_not_found")
    text_ok, images_ok, shortest = GATEWAY_MODELS[model]
    prompt = body.get("prompt") or ""
    if not isinstance(prompt, str) or not prompt.strip():
        raise gateway_error(400, "prompt is required")
    if text_risk_marker and text_risk_marker in prompt:
        raise gateway_error(400, "the prompt did not pass content review", "content_policy")
    duration = body.get("duration", 5)
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int)
        or not shortest <= duration <= 12
    ):
        raise gateway_error(400, f"duration must be {shortest}-12 seconds for {model}")
    resolution = body.get("resolution", "720p")
    if resolution not in GATEWAY_SIZES:
        raise gateway_error(400, "resolution must be 480p, 720p or 1080p")
    raw_images = body.get("images") or []
    if not isinstance(raw_images, list):
        raise gateway_error(400, "images must be an array")
    if raw_images and not images_ok:
        raise gateway_error(400, f"{model} does not take images")
    if not raw_images and not text_ok:
        raise gateway_error(400, f"{model} needs at least one image")
    images = []
    for index, value in enumerate(raw_images):
        label = f"images[{index}]"
        try:
            is_url = isinstance(value, str) and value.startswith(("http://", "https://"))
            data = fetch(value, label) if is_url else decode_base64(value, label)
            check_image(data, label)
        except Refusal as refusal:
            raise gateway_error(400, refusal.message) from None
        images.append(data)
    size = body.get("size", "16:9")
    sizes = GATEWAY_SIZES[resolution]
    if size == "adaptive":
        if not images and "-pro" in model:
            raise gateway_error(400, f"{model} does not take size=adaptive for text-to-video")
        size = _adaptive(images[0]) if images else "16:9"
    if size not in sizes:
        raise gateway_error(400, f"size must be one of {', '.join(sizes)} or adaptive")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, str):
        raise gateway_error(400, "metadata must be a JSON string")
    width, height = sizes[size]
    return Accepted(model, prompt, width, height, duration * 24 + 1, images)


def _adaptive(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as image:  # checked by check_image already
        return nearest_ratio(*image.size)
