"""Every generation mode the studio offers, with what each accepts and produces.

One `Mode` per command-line name. The Volcengine modes follow
docs/upstream/volcengine-visual.md (the vendor's contract); the gateway models follow
docs/upstream/gateway.md. Forms, the command line and the pricing read from here (the
emulator's validation is written separately, from the same pages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType


class Provider(StrEnum):
    VOLCENGINE = "volcengine"
    GATEWAY = "gateway"


class RatioSource(StrEnum):
    FIELD = "field"  # the user picks aspect_ratio and it is sent
    IMAGE = "image"  # the output follows the first frame; aspect_ratio is not sent
    IMAGE_SENT = "image_sent"  # picked from the first frame and sent (S2.0 image to video)


FPS = 24
FRAMES_BY_SECONDS = MappingProxyType({5: 121, 10: 241})
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
S20_ASPECT_RATIOS = (*ASPECT_RATIOS, "9:21")
PROMPT_LIMIT = 800
PROMPT_RECOMMENDED = 400
S20_PROMPT_LIMIT = 150

SIZES_720P = MappingProxyType(
    {
        "16:9": (1280, 720),
        "9:16": (720, 1280),
        "1:1": (960, 960),
        "4:3": (960, 720),
        "3:4": (720, 960),
        "21:9": (1680, 720),
        "9:21": (720, 1680),
    }
)
SIZES_1080P = MappingProxyType(
    {
        "16:9": (1920, 1088),
        "21:9": (2176, 928),
        "4:3": (1664, 1248),
        "1:1": (1440, 1440),
        "3:4": (1248, 1664),
        "9:16": (1088, 1920),
    }
)
SIZES_480P = MappingProxyType(
    {
        "16:9": (864, 480),
        "9:16": (480, 864),
        "1:1": (640, 640),
        "4:3": (640, 480),
        "3:4": (480, 640),
        "21:9": (1120, 480),
    }
)
GATEWAY_SIZES = MappingProxyType({"480p": SIZES_480P, "720p": SIZES_720P, "1080p": SIZES_1080P})
GATEWAY_RESOLUTIONS = ("480p", "720p", "1080p")
GATEWAY_RATIOS = (*ASPECT_RATIOS, "adaptive")

CAMERA_TEMPLATES = (
    "hitchcock_dolly_in",
    "hitchcock_dolly_out",
    "robo_arm",
    "dynamic_orbit",
    "central_orbit",
    "crane_push",
    "quick_pull_back",
    "counterclockwise_swivel",
    "clockwise_swivel",
    "handheld",
    "rapid_push_pull",
)
CAMERA_STRENGTHS = ("weak", "medium", "strong")


@dataclass(frozen=True)
class Mode:
    name: str
    req_key: str
    label: str
    provider: Provider = Provider.VOLCENGINE
    min_images: int = 0
    max_images: int = 0
    durations: tuple[int, ...] = (5, 10)
    aspect_ratios: tuple[str, ...] = ASPECT_RATIOS
    ratio_source: RatioSource = RatioSource.FIELD
    sizes: Mapping[str, tuple[int, int]] = field(default_factory=lambda: SIZES_720P)
    prompt_limit: int = PROMPT_LIMIT
    prompt_required: bool = True
    sends_frames: bool = True
    camera: bool = False
    # Gateway models only: which inputs of docs/upstream/gateway.md they take.
    resolutions: tuple[str, ...] = ()
    adaptive_for_text: bool = True

    @property
    def uses_images(self) -> bool:
        return self.max_images > 0

    @property
    def is_gateway(self) -> bool:
        return self.provider == Provider.GATEWAY

    @property
    def default_duration(self) -> int:
        return 5 if 5 in self.durations else self.durations[0]

    def frames(self, seconds: int) -> int:
        return FRAMES_BY_SECONDS.get(seconds, seconds * FPS + 1)


_VOLCENGINE_MODES = (
    Mode("t2v_720p", "jimeng_t2v_v30", "Text to video · 720P"),
    Mode("t2v_1080p", "jimeng_t2v_v30_1080p", "Text to video · 1080P", sizes=SIZES_1080P),
    Mode(
        "i2v_first_720p",
        "jimeng_i2v_first_v30",
        "Image to video, first frame · 720P",
        min_images=1,
        max_images=1,
        ratio_source=RatioSource.IMAGE,
        prompt_required=False,
    ),
    Mode(
        "i2v_first_1080p",
        "jimeng_i2v_first_v30_1080",
        "Image to video, first frame · 1080P",
        min_images=1,
        max_images=1,
        ratio_source=RatioSource.IMAGE,
        sizes=SIZES_1080P,
        prompt_required=False,
    ),
    Mode(
        "i2v_first_tail_720p",
        "jimeng_i2v_first_tail_v30",
        "First and last frame · 720P",
        min_images=2,
        max_images=2,
        ratio_source=RatioSource.IMAGE,
        prompt_required=False,
    ),
    Mode(
        "i2v_first_tail_1080p",
        "jimeng_i2v_first_tail_v30_1080",
        "First and last frame · 1080P",
        min_images=2,
        max_images=2,
        ratio_source=RatioSource.IMAGE,
        sizes=SIZES_1080P,
        prompt_required=False,
    ),
    Mode(
        "i2v_recamera_720p",
        "jimeng_i2v_recamera_v30",
        "Camera movement · 720P",
        min_images=1,
        max_images=1,
        ratio_source=RatioSource.IMAGE,
        prompt_required=False,
        camera=True,
    ),
    Mode(
        "ti2v_pro",
        "jimeng_ti2v_v30_pro",
        "Video 3.0 Pro · text or image · 1080P",
        min_images=0,
        max_images=1,
        sizes=SIZES_1080P,
        # Needs a prompt or an image; the request validator checks the pair.
        prompt_required=False,
    ),
    Mode(
        "s20_t2v",
        "jimeng_vgfm_t2v_l20",
        "S2.0 Pro · text to video",
        durations=(5,),
        aspect_ratios=S20_ASPECT_RATIOS,
        prompt_limit=S20_PROMPT_LIMIT,
        sends_frames=False,
    ),
    Mode(
        "s20_i2v",
        "jimeng_vgfm_i2v_l20",
        "S2.0 Pro · image to video",
        min_images=1,
        max_images=1,
        durations=(5,),
        aspect_ratios=S20_ASPECT_RATIOS,
        ratio_source=RatioSource.IMAGE_SENT,
        prompt_limit=S20_PROMPT_LIMIT,
        sends_frames=False,
    ),
)


def _gateway(name: str, label: str, *, text: bool, image: bool, shortest: int = 2) -> Mode:
    return Mode(
        name,
        name,
        label,
        provider=Provider.GATEWAY,
        min_images=0 if text else 1,
        max_images=4 if image else 0,
        durations=tuple(range(shortest, 13)),
        aspect_ratios=GATEWAY_RATIOS,
        sizes=SIZES_720P,
        sends_frames=False,
        resolutions=GATEWAY_RESOLUTIONS,
        # The pro models do not take "adaptive" for text to video (docs/upstream/gateway.md).
        adaptive_for_text="-pro" not in name,
    )


_GATEWAY_MODES = (
    _gateway("doubao-seedance-1-0-pro-250528", "Seedance 1.0 Pro", text=True, image=True),
    _gateway("doubao-seedance-1-0-pro-fast-251015", "Seedance 1.0 Pro Fast", text=True, image=True),
    _gateway(
        "doubao-seedance-1-0-lite-t2v-250428", "Seedance 1.0 Lite T2V", text=True, image=False
    ),
    _gateway(
        "doubao-seedance-1-0-lite-i2v-250428", "Seedance 1.0 Lite I2V", text=False, image=True
    ),
    _gateway("doubao-seedance-1-5-pro", "Seedance 1.5 Pro", text=True, image=True, shortest=4),
)

MODES: MappingProxyType[str, Mode] = MappingProxyType(
    {mode.name: mode for mode in (*_VOLCENGINE_MODES, *_GATEWAY_MODES)}
)
VOLCENGINE_MODES = tuple(m for m in MODES.values() if not m.is_gateway)
GATEWAY_MODES = tuple(m for m in MODES.values() if m.is_gateway)

# Older write-ups call Pro text to video `jimeng_t2v_v30_pro`; the vendor's key is ti2v.
REQ_KEY_ALIASES = MappingProxyType({"jimeng_t2v_v30_pro": "jimeng_ti2v_v30_pro"})
_BY_REQ_KEY = {mode.req_key: mode for mode in VOLCENGINE_MODES}


def get_mode(name: str) -> Mode:
    """The mode of this command-line name, or of this req_key (old names included)."""
    found = MODES.get(name) or _BY_REQ_KEY.get(REQ_KEY_ALIASES.get(name, name))
    if found is None:
        raise KeyError(f"unknown mode {name!r}; choose one of {', '.join(MODES)}")
    return found


# --- Pricing (docs/pricing.md): CNY per generated second ---------------------------


@dataclass(frozen=True)
class Price:
    key: str
    cny_per_second: Decimal
    is_estimate: bool  # True where the vendor publishes no price: the UI says "estimate"


DEFAULT_PRICES: MappingProxyType[str, Price] = MappingProxyType(
    {
        price.key: price
        for price in (
            Price("jimeng_t2v_v30", Decimal("0.60"), False),
            Price("jimeng_t2v_v30_1080p", Decimal("0.80"), False),
            Price("jimeng_t2v_v30_pro", Decimal("1.00"), False),
            Price("jimeng_ti2v_v30_pro", Decimal("1.00"), False),
            Price("jimeng_i2v_first_v30", Decimal("0.60"), True),
            Price("jimeng_i2v_first_v30_1080", Decimal("0.80"), True),
            Price("jimeng_i2v_first_tail_v30", Decimal("0.60"), True),
            Price("jimeng_i2v_first_tail_v30_1080", Decimal("0.80"), True),
            Price("jimeng_i2v_recamera_v30", Decimal("0.60"), True),
            Price("jimeng_vgfm_t2v_l20", Decimal("0.60"), True),
            Price("jimeng_vgfm_i2v_l20", Decimal("0.60"), True),
            Price("doubao-seedance-1-0-pro-250528", Decimal("1.00"), True),
            Price("doubao-seedance-1-0-pro-fast-251015", Decimal("0.60"), True),
            Price("doubao-seedance-1-0-lite-t2v-250428", Decimal("0.50"), True),
            Price("doubao-seedance-1-0-lite-i2v-250428", Decimal("0.50"), True),
            Price("doubao-seedance-1-5-pro", Decimal("1.20"), True),
        )
    }
)

CENT = Decimal("0.01")


def estimate_cost(
    mode: Mode, seconds: int, prices: MappingProxyType[str, Price] | dict[str, Price] | None = None
) -> Decimal:
    """CNY for `seconds` of `mode` at the given price table (the defaults when None)."""
    if seconds not in mode.durations:
        raise ValueError(f"{mode.name} makes {_list(mode.durations)} s videos, not {seconds} s")
    table = DEFAULT_PRICES if prices is None else prices
    price = table[mode.req_key].cny_per_second
    return (price * seconds).quantize(CENT, rounding=ROUND_HALF_UP)


def _list(values: tuple[int, ...]) -> str:
    if len(values) > 3 and values == tuple(range(values[0], values[-1] + 1)):
        return f"{values[0]}–{values[-1]}"
    return ", ".join(str(v) for v in values)


def describe_durations(mode: Mode) -> str:
    return _list(mode.durations)
