"""Every generation mode the studio offers, with what each accepts and produces.

One `Mode` per command-line name. The Volcengine modes follow
docs/upstream/volcengine-visual.md (the vendor's contract); the gateway models follow
docs/upstream/gateway.md. Forms, the command line and the pricing read from here (the
emulator's validation is written separately, from the same pages).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Provider(StrEnum):
    VOLCENGINE = "volcengine"
    GATEWAY = "gateway"
    ARK = "ark"


class RatioSource(StrEnum):
    FIELD = "field"  # the user picks aspect_ratio and it is sent
    IMAGE = "image"  # the output follows the first frame; aspect_ratio is not sent
    IMAGE_SENT = "image_sent"  # picked from the first frame and sent (S2.0 image to video)


@dataclass(frozen=True)
class ImageRules:
    """What an upstream takes as an input image: width/height within [min_ratio,
    max_ratio]. (Sizes, bytes and formats are met by the fitter for every upstream:
    JPEG or PNG, at most 2560 px a side and 4.7 MB, a short side of 320 px or more.)"""

    min_ratio: float
    max_ratio: float

    def allows(self, width: int, height: int) -> bool:
        return self.min_ratio <= width / height <= self.max_ratio


# docs/upstream/volcengine-visual.md: long side at most 3 times the short side. The
# gateway documents none; we hold its models to the same.
VOLCENGINE_IMAGES = ImageRules(min_ratio=1 / 3, max_ratio=3.0)
# docs/upstream/ark.md: width/height within [0.4, 2.5].
ARK_IMAGES = ImageRules(min_ratio=0.4, max_ratio=2.5)

FPS = 24
FRAMES_BY_SECONDS = MappingProxyType({5: 121, 10: 241})
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
S20_ASPECT_RATIOS = (*ASPECT_RATIOS, "9:21")
PROMPT_LIMIT = 800
# An Ark draft is always made at this resolution (docs/upstream/ark.md).
DRAFT_RESOLUTION = "480p"
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


# Ark's output pixels per resolution and ratio (docs/upstream/ark.md): the 1.0 models
# and the later ones differ a little.
ARK_SIZES_10 = {
    "480p": {"16:9": (864, 480), "4:3": (736, 544), "1:1": (640, 640), "3:4": (544, 736),
             "9:16": (480, 864), "21:9": (960, 416)},
    "720p": {"16:9": (1248, 704), "4:3": (1120, 832), "1:1": (960, 960), "3:4": (832, 1120),
             "9:16": (704, 1248), "21:9": (1504, 640)},
    "1080p": {"16:9": (1920, 1088), "4:3": (1664, 1248), "1:1": (1440, 1440),
              "3:4": (1248, 1664), "9:16": (1088, 1920), "21:9": (2176, 928)},
}  # fmt: skip
ARK_SIZES_LATER = {
    "480p": {"16:9": (864, 496), "4:3": (752, 560), "1:1": (640, 640), "3:4": (560, 752),
             "9:16": (496, 864), "21:9": (992, 432)},
    "720p": {"16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960), "3:4": (834, 1112),
             "9:16": (720, 1280), "21:9": (1470, 630)},
    "1080p": {"16:9": (1920, 1080), "4:3": (1664, 1248), "1:1": (1440, 1440),
              "3:4": (1248, 1664), "9:16": (1080, 1920), "21:9": (2206, 946)},
}  # fmt: skip
ARK_SIZES = MappingProxyType({"1.0": ARK_SIZES_10, "later": ARK_SIZES_LATER})
ARK_RATIOS = (*ASPECT_RATIOS, "adaptive")
AUTO_DURATION = -1  # Ark: the model picks the length


@dataclass(frozen=True)
class ArkTraits:
    """What one Ark model takes and costs (docs/upstream/ark.md, "Models")."""

    first_v10: bool  # the 1.0 generation: its own output sizes, adaptive only with an image
    text: bool
    first_frame: bool
    last_frame: bool
    references: int  # reference images at most (0: none)
    audio: bool
    draft: bool
    seed: bool
    camera_fixed: bool
    default_resolution: str
    cny_per_million_tokens: Decimal
    cny_per_million_tokens_silent: Decimal | None = None  # when audio makes a difference

    def size(self, resolution: str, ratio: str) -> tuple[int, int]:
        table = ARK_SIZES["1.0" if self.first_v10 else "later"]
        return table[resolution][ratio if ratio in ASPECT_RATIOS else "16:9"]


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
    # Gateway and Ark models: the resolutions offered, and whether "adaptive" is taken
    # without an image.
    resolutions: tuple[str, ...] = ()
    adaptive_for_text: bool = True
    ark: ArkTraits | None = None

    @property
    def uses_images(self) -> bool:
        return self.max_images > 0

    @property
    def is_gateway(self) -> bool:
        return self.provider == Provider.GATEWAY

    @property
    def is_ark(self) -> bool:
        return self.provider == Provider.ARK

    @property
    def takes_seed(self) -> bool:
        """Whether we may send a seed (the later Seedance models pick their own)."""
        return self.ark is None or self.ark.seed

    @property
    def takes_resolution(self) -> bool:
        return bool(self.resolutions)

    @property
    def image_rules(self) -> ImageRules:
        return ARK_IMAGES if self.is_ark else VOLCENGINE_IMAGES

    @property
    def price_key(self) -> str:
        """Ark prices are per token and the gateway sells some of the same model ids
        per second, so Ark's prices have keys of their own."""
        return f"ark:{self.req_key}" if self.is_ark else self.req_key

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


def _ark(name: str, model: str, label: str, traits: ArkTraits, seconds: tuple[int, int]) -> Mode:
    shortest, longest = seconds
    durations = tuple(range(shortest, longest + 1))
    resolutions = ("480p", "720p") if name in _ARK_720P_AT_MOST else ("480p", "720p", "1080p")
    return Mode(
        name,
        model,
        label,
        provider=Provider.ARK,
        min_images=0 if traits.text else 1,
        max_images=2 if traits.last_frame else (1 if traits.first_frame else 0),
        durations=(*durations, AUTO_DURATION) if name not in _ARK_FIXED_LENGTH else durations,
        aspect_ratios=ARK_RATIOS,
        sizes=SIZES_720P,
        prompt_required=not (traits.first_frame or traits.references),
        sends_frames=False,
        resolutions=resolutions,
        adaptive_for_text=not traits.first_v10,
        ark=traits,
    )


_ARK_720P_AT_MOST = {"seedance_2_0_fast", "seedance_2_0_mini", "seedance_2_5"}
_ARK_FIXED_LENGTH = {
    "seedance_1_0_pro",
    "seedance_1_0_pro_fast",
    "seedance_1_0_lite_t2v",
    "seedance_1_0_lite_i2v",
}


def _v10(**traits: Any) -> ArkTraits:
    return ArkTraits(
        first_v10=True, audio=False, draft=False, seed=True, camera_fixed=True, **traits
    )


def _v20(**traits: Any) -> ArkTraits:
    """The 2.0 series and later: every input, sound, no seed, no fixed camera."""
    defaults = {
        "first_v10": False,
        "text": True,
        "first_frame": True,
        "last_frame": True,
        "references": 9,
        "audio": True,
        "draft": False,
        "seed": False,
        "camera_fixed": False,
        "default_resolution": "720p",
    }
    return ArkTraits(**{**defaults, **traits})


M = Decimal

_ARK_MODES = (
    _ark("seedance_1_0_pro", "doubao-seedance-1-0-pro-250528", "Seedance 1.0 Pro (Ark)",
         _v10(text=True, first_frame=True, last_frame=True, references=0,
                   default_resolution="1080p", cny_per_million_tokens=M("15")), (2, 12)),
    _ark("seedance_1_0_pro_fast", "doubao-seedance-1-0-pro-fast-251015",
         "Seedance 1.0 Pro Fast (Ark)",
         _v10(text=True, first_frame=True, last_frame=False, references=0,
                   default_resolution="1080p", cny_per_million_tokens=M("4.2")), (2, 12)),
    _ark("seedance_1_0_lite_t2v", "doubao-seedance-1-0-lite-t2v-250428",
         "Seedance 1.0 Lite, text (Ark)",
         _v10(text=True, first_frame=False, last_frame=False, references=0,
                   default_resolution="720p", cny_per_million_tokens=M("10")), (2, 12)),
    _ark("seedance_1_0_lite_i2v", "doubao-seedance-1-0-lite-i2v-250428",
         "Seedance 1.0 Lite, image (Ark)",
         _v10(text=False, first_frame=True, last_frame=True, references=4,
                   default_resolution="720p", cny_per_million_tokens=M("10")), (2, 12)),
    _ark("seedance_1_5_pro", "doubao-seedance-1-5-pro-251215", "Seedance 1.5 Pro (Ark)",
         ArkTraits(first_v10=False, text=True, first_frame=True, last_frame=True, references=0,
                   audio=True, draft=True, seed=True, camera_fixed=True,
                   default_resolution="720p", cny_per_million_tokens=M("16"),
                   cny_per_million_tokens_silent=M("8")), (4, 12)),
    _ark("seedance_2_0", "doubao-seedance-2-0-260128", "Seedance 2.0 (Ark)",
         _v20(cny_per_million_tokens=M("46")), (4, 15)),
    _ark("seedance_2_0_fast", "doubao-seedance-2-0-fast-260128", "Seedance 2.0 Fast (Ark)",
         _v20(cny_per_million_tokens=M("37")), (4, 15)),
    _ark("seedance_2_0_mini", "doubao-seedance-2-0-mini-260615", "Seedance 2.0 Mini (Ark)",
         _v20(cny_per_million_tokens=M("23")), (4, 15)),
    _ark("seedance_2_5", "doubao-seedance-2-5-260628", "Seedance 2.5 (Ark)",
         _v20(references=30, cny_per_million_tokens=M("70")),
         (4, 30)),
)  # fmt: skip

MODES: MappingProxyType[str, Mode] = MappingProxyType(
    {mode.name: mode for mode in (*_VOLCENGINE_MODES, *_GATEWAY_MODES, *_ARK_MODES)}
)
VOLCENGINE_MODES = tuple(m for m in MODES.values() if m.provider == Provider.VOLCENGINE)
GATEWAY_MODES = tuple(m for m in MODES.values() if m.is_gateway)
ARK_MODES = tuple(m for m in MODES.values() if m.is_ark)


# A video continues with a mode that takes a first frame: the same one when it can.
_EXTENDED_BY = {
    "t2v_720p": "i2v_first_720p",
    "t2v_1080p": "i2v_first_1080p",
    "s20_t2v": "s20_i2v",
    "doubao-seedance-1-0-lite-t2v-250428": "doubao-seedance-1-0-lite-i2v-250428",
    "seedance_1_0_lite_t2v": "seedance_1_0_lite_i2v",
}


def extension_mode(mode: Mode) -> Mode:
    """The mode that continues a video of `mode` from its last frame."""
    if mode.max_images >= 1 and not mode.camera:
        return mode
    return MODES[_EXTENDED_BY.get(mode.name, "i2v_first_720p")]


def offered_modes(retired: Collection[str] = ()) -> list[Mode]:
    """The modes new jobs may use: all but those whose price key an operator retired
    (old jobs keep theirs). No retirement is built in: the vendor's notices change, and
    operators record them (the admin's prices)."""
    return [mode for mode in MODES.values() if mode.price_key not in retired]


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
    cny_per_second: Decimal  # Jimeng and gateway modes
    is_estimate: bool  # True where the vendor publishes no price: the UI says "estimate"
    cny_per_million_tokens: Decimal | None = None  # Ark models (cny_per_second is 0)


def _ark_prices() -> list[Price]:
    prices = []
    for mode in _ARK_MODES:
        assert mode.ark is not None
        prices.append(Price(mode.price_key, Decimal("0"), True, mode.ark.cny_per_million_tokens))
        if mode.ark.cny_per_million_tokens_silent is not None:
            silent = mode.ark.cny_per_million_tokens_silent
            prices.append(Price(f"{mode.price_key}:silent", Decimal("0"), True, silent))
    return prices


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
            *_ark_prices(),
        )
    }
)

CENT = Decimal("0.01")
PriceTable = Mapping[str, Price]


@dataclass(frozen=True)
class Order:
    """What decides the price: length, and for Ark the pixels, the sound and the draft."""

    seconds: int
    resolution: str | None = None
    ratio: str | None = None
    audio: bool = False
    draft: bool = False


@dataclass(frozen=True)
class Estimate:
    price: Price
    cost_cny: Decimal
    seconds: int  # what is reserved against a seconds quota (the longest, for "auto")
    tokens: int | None = None  # Ark


def price_key(mode: Mode, order: Order) -> str:
    if mode.ark and mode.ark.cny_per_million_tokens_silent is not None and not order.audio:
        return f"{mode.price_key}:silent"
    return mode.price_key


def ark_tokens(mode: Mode, order: Order) -> int:
    """Tokens ≈ width × height × frames / 1024 at 24 fps (docs/upstream/ark.md)."""
    assert mode.ark is not None
    resolution = (
        DRAFT_RESOLUTION if order.draft else (order.resolution or mode.ark.default_resolution)
    )
    width, height = mode.ark.size(resolution, order.ratio or "16:9")
    return width * height * (24 * reserved_seconds(mode, order.seconds) + 1) // 1024


def reserved_seconds(mode: Mode, seconds: int) -> int:
    """The length to reserve for: the longest the model makes when it picks itself."""
    return max(mode.durations) if seconds == AUTO_DURATION else seconds


def estimate(mode: Mode, order: Order, prices: PriceTable | None = None) -> Estimate:
    """What a job of `mode` will cost at the given price table (the defaults when None)."""
    if order.seconds not in mode.durations:
        raise ValueError(f"{mode.name} makes {_list(mode.durations)} s videos, not {order.seconds}")
    price = (DEFAULT_PRICES if prices is None else prices)[price_key(mode, order)]
    seconds = reserved_seconds(mode, order.seconds)
    if mode.is_ark:
        tokens = ark_tokens(mode, order)
        return Estimate(price, token_cost(price, tokens), seconds, tokens)
    cost = (price.cny_per_second * seconds).quantize(CENT, rounding=ROUND_HALF_UP)
    return Estimate(price, cost, seconds)


def token_cost(price: Price, tokens: int) -> Decimal:
    per_million = price.cny_per_million_tokens or Decimal("0")
    return (per_million * tokens / 1_000_000).quantize(CENT, rounding=ROUND_HALF_UP)


def estimate_cost(mode: Mode, seconds: int, prices: PriceTable | None = None) -> Decimal:
    """CNY for `seconds` of `mode` with its defaults (resolution, ratio)."""
    return estimate(mode, Order(seconds), prices).cost_cny


def _list(values: tuple[int, ...]) -> str:
    auto = AUTO_DURATION in values
    values = tuple(v for v in values if v != AUTO_DURATION)
    if len(values) > 3 and values == tuple(range(values[0], values[-1] + 1)):
        text = f"{values[0]}–{values[-1]}"
    else:
        text = ", ".join(str(v) for v in values)
    return f"{text} or auto (-1)" if auto else text


def describe_durations(mode: Mode) -> str:
    return _list(mode.durations)
