"""Check an Ark create body the way Ark does (docs/upstream/ark.md), per model.

Written from the contract, apart from the studio's own checks in
generations/jimeng/payload.py, so that a mistake in the studio's request building
shows up as a refusal here instead of being agreed with. Only the output size tables
are shared with the catalog: they are data, not rules.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from generations.jimeng.catalog import ARK_SIZES
from sandbox.validate import ImageFetcher

RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
MAX_BODY_BYTES = 64 * 1024 * 1024
IMAGE_MAX_BYTES = 30 * 1024 * 1024
DATA_URL = re.compile(r"^data:(image|audio)/([a-z0-9.+-]+);base64,(.*)$", re.S)
IMAGE_FORMATS = ("jpeg", "png", "webp", "bmp", "tiff", "gif")
TEXT_RISK = "InputTextSensitiveContentDetected"


@dataclass
class ArkRefusal(Exception):
    http_status: int
    code: str
    message: str
    param: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def error_type(self) -> str:
        return {
            400: "BadRequest",
            401: "Unauthorized",
            403: "Forbidden",
            404: "NotFound",
            429: "TooManyRequests",
        }.get(self.http_status, "InternalServerError")


def invalid(param: str, message: str) -> ArkRefusal:
    return ArkRefusal(400, f"InvalidParameter.{param}", message, param)


def missing(param: str) -> ArkRefusal:
    return ArkRefusal(400, f"MissingParameter.{param}", f"the parameter {param} is required", param)


@dataclass(frozen=True)
class Spec:
    v10: bool
    text: bool
    first: bool
    last: bool
    references: int
    resolutions: tuple[str, ...]
    seconds: tuple[int, int]
    auto: bool
    audio: bool
    draft: bool
    seed: bool
    camera_fixed: bool
    media: bool = False  # 2.0 series: reference videos and audio too


_ALL = ("480p", "720p", "1080p")
_V10: dict[str, Any] = {"v10": True, "seconds": (2, 12), "auto": False, "audio": False,
                        "draft": False, "seed": True, "camera_fixed": True,
                        "resolutions": _ALL}  # fmt: skip
_V20: dict[str, Any] = {"v10": False, "text": True, "first": True, "last": True,
        "references": 9,
        "seconds": (4, 15), "auto": True, "audio": True, "draft": False, "seed": False,
        "camera_fixed": False, "media": True}  # fmt: skip

SPECS: dict[str, Spec] = {
    "doubao-seedance-1-0-pro-250528": Spec(**_V10, text=True, first=True, last=True, references=0),
    "doubao-seedance-1-0-pro-fast-251015": Spec(
        **_V10, text=True, first=True, last=False, references=0
    ),
    "doubao-seedance-1-0-lite-t2v-250428": Spec(
        **_V10, text=True, first=False, last=False, references=0
    ),
    "doubao-seedance-1-0-lite-i2v-250428": Spec(
        **_V10, text=False, first=True, last=True, references=4
    ),
    "doubao-seedance-1-5-pro-251215": Spec(
        v10=False, text=True, first=True, last=True, references=0, resolutions=_ALL,
        seconds=(4, 12), auto=True, audio=True, draft=True, seed=True, camera_fixed=True,
    ),
    "doubao-seedance-2-0-260128": Spec(**_V20, resolutions=_ALL),
    "doubao-seedance-2-0-fast-260128": Spec(**_V20, resolutions=("480p", "720p")),
    "doubao-seedance-2-0-mini-260615": Spec(**_V20, resolutions=("480p", "720p")),
    "doubao-seedance-2-5-260628": Spec(
        **{**_V20, "references": 30, "seconds": (4, 30)},
        resolutions=("480p", "720p"),
    ),
}  # fmt: skip
# When the model picks the length itself (duration -1), it makes this many seconds.
AUTO_PICK_SECONDS = 5


@dataclass(frozen=True)
class AcceptedArk:
    model: str
    prompt: str
    width: int
    height: int
    frames: int
    images: list[bytes]
    options: dict[str, Any]  # what the task echoes: duration, ratio, resolution, seed, ...


def _bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(name, f"{name} must be true or false")
    return value


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"{name} must be an integer")
    return value


@dataclass(frozen=True)
class DraftTask:
    """A task a draft_task item names, as the emulator knows it."""

    model: str
    status: str
    is_draft: bool
    prompt: str
    options: dict[str, Any]
    images: list[bytes]


def check_ark(
    body: Any,
    *,
    fetch: ImageFetcher,
    own_host: str,
    drafts: Callable[[str], DraftTask | None],
    text_risk: str,
) -> AcceptedArk:
    """Accept a create body or raise ArkRefusal."""
    if not isinstance(body, dict):
        raise ArkRefusal(400, "InvalidParameter", "the body must be a JSON object")
    model = body.get("model")
    if not model:
        raise missing("model")
    spec = SPECS.get(str(model))
    if spec is None:
        raise ArkRefusal(
            404,
            "InvalidEndpointOrModel.NotFound",
            f"The model or endpoint {model} does not exist or you do not have access to it.",
            "model",
        )
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise missing("content")
    _check_callback(body, own_host)
    if any(isinstance(item, dict) and item.get("type") == "draft_task" for item in content):
        return _final_of_draft(body, spec, content, drafts)
    prompt, images, roles = _content(content, spec, fetch)
    if text_risk and text_risk in prompt:
        raise ArkRefusal(400, TEXT_RISK, "The request failed because the input text may "
                         "contain sensitive information.", "content")  # fmt: skip
    options = _options(body, spec, images, roles)
    width, height = _size(spec, options["resolution"], options["ratio"])
    frames = 24 * options["duration"] + 1
    return AcceptedArk(str(model), prompt, width, height, frames, images, options)


def _check_callback(body: dict[str, Any], own_host: str) -> None:
    url = body.get("callback_url")
    if url is None:
        return
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid("callback_url", "callback_url must be an http(s) URL")
    host = url.split("://", 1)[1].split("/", 1)[0]
    if host != own_host:
        # The real service calls back anywhere; the sandbox only calls its own site,
        # so that it cannot be made to send requests into the network it runs in.
        raise invalid("callback_url", f"the sandbox only calls back {own_host}")


def _content(
    content: list[Any], spec: Spec, fetch: ImageFetcher
) -> tuple[str, list[bytes], list[str]]:
    texts, images, roles = [], [], []
    for index, item in enumerate(content):
        if not isinstance(item, dict):
            raise invalid("content", f"content[{index}] must be an object")
        kind = item.get("type")
        if kind == "text":
            text = item.get("text")
            if not isinstance(text, str):
                raise invalid("content", f"content[{index}].text must be a string")
            texts.append(text)
        elif kind == "image_url":
            images.append(_image(item, index, fetch))
            roles.append(str(item.get("role") or ""))
        elif kind in ("video_url", "audio_url"):
            if not spec.media:
                raise invalid("content", f"this model takes no {kind} items")
            raise invalid("content", "the sandbox does not take reference videos or audio")
        else:
            raise invalid("content", f"content[{index}].type {kind!r} is not supported")
    if len(texts) > 1:
        raise invalid("content", "at most one text item")
    _check_roles(spec, roles, bool(texts and texts[0].strip()))
    return (texts[0] if texts else ""), images, roles


def _image(item: dict[str, Any], index: int, fetch: ImageFetcher) -> bytes:
    holder = item.get("image_url")
    url = holder.get("url") if isinstance(holder, dict) else None
    if not isinstance(url, str) or not url:
        raise invalid("content", f"content[{index}].image_url.url is required")
    label = f"content[{index}]"
    match = DATA_URL.match(url)
    if match:
        kind, fmt, data = match.groups()
        if kind != "image" or fmt not in (*IMAGE_FORMATS, "jpg"):
            raise invalid("content", f"{label}: {kind}/{fmt} is not an accepted image format")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("content", f"{label}: the data URL is not valid base64") from None
    elif url.startswith(("http://", "https://")):
        raw = fetch(url, label)
    else:
        raise invalid("content", f"{label}: use a data URL or an http(s) URL")
    _check_image(raw, label)
    return raw


def _check_image(raw: bytes, label: str) -> None:
    if len(raw) >= IMAGE_MAX_BYTES:
        raise invalid("content", f"{label}: images must be under 30 MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
        with image:
            width, height = image.size  # from the header: checked before decoding
            if not (300 <= width <= 6000 and 300 <= height <= 6000):
                raise invalid("content", f"{label}: image is {width}x{height}; sides 300–6000 px")
            if not 0.4 <= width / height <= 2.5:
                raise invalid("content", f"{label}: width/height must be between 0.4 and 2.5")
            image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise invalid("content", f"{label}: not a readable image") from None


def _check_roles(spec: Spec, roles: list[str], has_text: bool) -> None:
    if not roles:
        if not spec.text:
            raise invalid("content", "this model needs an image")
        if not has_text:
            raise missing("content.text")
        return
    if all(role == "reference_image" for role in roles):
        if not spec.references:
            raise invalid("content", "this model takes no reference images")
        if len(roles) > spec.references:
            raise invalid("content", f"at most {spec.references} reference images")
        return
    if "reference_image" in roles:
        raise invalid("content", "reference images cannot be mixed with first or last frames")
    if len(roles) == 1 and roles[0] in ("", "first_frame") and spec.first:
        return
    if roles == ["first_frame", "last_frame"] and spec.last:
        return
    raise invalid("content", f"image roles {roles} are not accepted by this model")


def _options(
    body: dict[str, Any], spec: Spec, images: list[bytes], roles: list[str]
) -> dict[str, Any]:
    draft = bool(_bool(body, "draft"))
    audio = _bool(body, "generate_audio")
    if draft and not spec.draft:
        raise invalid("draft", "this model makes no drafts")
    if audio and not spec.audio:
        raise invalid("generate_audio", "this model makes no sound")
    if draft and _bool(body, "return_last_frame"):
        raise invalid("return_last_frame", "return_last_frame cannot be used with draft")
    resolution = body.get("resolution") or ("480p" if draft else _default_resolution(spec))
    if resolution not in spec.resolutions:
        raise invalid("resolution", f"resolution must be one of {', '.join(spec.resolutions)}")
    if draft and resolution != "480p":
        raise invalid("resolution", "a draft is 480p")
    ratio = _ratio(body, spec, images, roles)
    seconds = _duration(body, spec)
    seed = _seed(body, spec)
    camera_fixed = _bool(body, "camera_fixed")
    if camera_fixed and (not spec.camera_fixed or "reference_image" in roles):
        raise invalid("camera_fixed", "camera_fixed is not supported here")
    _check_tier(body, spec, draft)
    expires = _int(body, "execution_expires_after")
    if expires is not None and not 3600 <= expires <= 259200:
        raise invalid("execution_expires_after", "execution_expires_after is 3600–259200")
    return {
        "duration": seconds,
        "ratio": ratio,
        "resolution": resolution,
        "seed": seed,
        "generate_audio": bool(audio),
        "draft": draft,
        "return_last_frame": bool(_bool(body, "return_last_frame")),
        "safety_identifier": body.get("safety_identifier"),
        "callback_url": body.get("callback_url"),
        "service_tier": body.get("service_tier") or "default",
        "execution_expires_after": expires or 172800,
    }


def _default_resolution(spec: Spec) -> str:
    return "1080p" if spec.v10 and spec.text and spec.first else "720p"


def _ratio(body: dict[str, Any], spec: Spec, images: list[bytes], roles: list[str]) -> str:
    ratio = body.get("ratio") or "16:9"
    if ratio not in (*RATIOS, "adaptive"):
        raise invalid("ratio", f"ratio must be one of {', '.join(RATIOS)} or adaptive")
    if ratio != "adaptive":
        return str(ratio)
    if not images:
        if spec.v10:
            raise invalid("ratio", "adaptive needs an image on this model")
        return "16:9"
    with Image.open(io.BytesIO(images[0])) as first:
        return nearest_ratio(*first.size)


def nearest_ratio(width: int, height: int) -> str:
    actual = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(math.log(w / h) - actual)

    return min(RATIOS, key=distance)


def _duration(body: dict[str, Any], spec: Spec) -> int:
    if body.get("frames") is not None:
        if body.get("duration") is not None:
            raise invalid("frames", "send duration or frames, not both")
        if not spec.v10:
            raise invalid("frames", "frames is only for the 1.0 models")
        frames = _int(body, "frames") or 0
        if not (29 <= frames <= 289 and (frames - 25) % 4 == 0):
            raise invalid("frames", "frames must be 25 + 4n, from 29 to 289")
        return round(frames / 24)
    seconds = _int(body, "duration")
    if seconds is None:
        return 5
    if seconds == -1 and spec.auto:
        return AUTO_PICK_SECONDS
    low, high = spec.seconds
    if not low <= seconds <= high:
        allowed = f"{low}–{high}" + (" or -1" if spec.auto else "")
        raise invalid("duration", f"duration must be {allowed} seconds")
    return seconds


def _seed(body: dict[str, Any], spec: Spec) -> int | None:
    seed = _int(body, "seed")
    if seed is None:
        return None
    if not spec.seed:
        raise invalid("seed", "this model does not take a seed")
    if not -1 <= seed <= 2**32 - 1:
        raise invalid("seed", "seed must be -1 to 4294967295")
    return seed


def _check_tier(body: dict[str, Any], spec: Spec, draft: bool) -> None:
    tier = body.get("service_tier")
    if tier is None:
        return
    if tier not in ("default", "flex"):
        raise invalid("service_tier", "service_tier is default or flex")
    if tier == "flex" and (spec.media or draft):
        raise invalid("service_tier", "flex is not offered here")


def _size(spec: Spec, resolution: str, ratio: str) -> tuple[int, int]:
    table = ARK_SIZES["1.0" if spec.v10 else "later"]
    return table[resolution][ratio]


def _final_of_draft(
    body: dict[str, Any],
    spec: Spec,
    content: list[Any],
    drafts: Callable[[str], DraftTask | None],
) -> AcceptedArk:
    if len(content) != 1:
        raise invalid("content", "a draft_task item must be the only item")
    holder = content[0].get("draft_task")
    draft_id = holder.get("id") if isinstance(holder, dict) else None
    found = drafts(str(draft_id)) if draft_id else None
    if found is None:
        raise ArkRefusal(404, "NotFound.draft_task", f"no draft task {draft_id}", "content")
    if found.model != body.get("model") or not found.is_draft or found.status != "succeeded":
        raise invalid("content", "draft_task must name a succeeded draft of the same model")
    options = found.options
    if _bool(body, "draft"):
        raise invalid("draft", "the final of a draft is not a draft")
    resolution = body.get("resolution") or _default_resolution(spec)
    if resolution not in spec.resolutions:
        raise invalid("resolution", f"resolution must be one of {', '.join(spec.resolutions)}")
    audio = _bool(body, "generate_audio")
    final = {
        **options,
        "resolution": resolution,
        "draft": False,
        "draft_task_id": str(draft_id),
        "return_last_frame": bool(_bool(body, "return_last_frame")),
        "generate_audio": options.get("generate_audio") if audio is None else audio,
        "safety_identifier": body.get("safety_identifier"),
        "callback_url": body.get("callback_url"),
    }
    width, height = _size(spec, resolution, final["ratio"])
    frames = 24 * final["duration"] + 1
    return AcceptedArk(found.model, found.prompt, width, height, frames, found.images, final)
