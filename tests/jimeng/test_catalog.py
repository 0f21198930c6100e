"""The catalog, pricing and the input rules shared by the command line and the forms."""

from __future__ import annotations

from decimal import Decimal

import pytest

from generations.jimeng import catalog
from generations.jimeng.catalog import GATEWAY_SIZES, MODES, estimate_cost, get_mode
from generations.jimeng.payload import GenerationInput, build_body, check_input

VOLCENGINE_NAMES = {
    "t2v_720p",
    "t2v_1080p",
    "i2v_first_720p",
    "i2v_first_1080p",
    "i2v_first_tail_720p",
    "i2v_first_tail_1080p",
    "i2v_recamera_720p",
    "ti2v_pro",
    "s20_t2v",
    "s20_i2v",
}


def test_catalog_holds_every_mode_of_the_contract() -> None:
    assert {m.name for m in catalog.VOLCENGINE_MODES} == VOLCENGINE_NAMES
    assert {m.name for m in catalog.GATEWAY_MODES} == {
        "doubao-seedance-1-0-pro-250528",
        "doubao-seedance-1-0-pro-fast-251015",
        "doubao-seedance-1-0-lite-t2v-250428",
        "doubao-seedance-1-0-lite-i2v-250428",
        "doubao-seedance-1-5-pro",
    }


def _sizes(mode: catalog.Mode, ratio: str) -> list[tuple[int, int]]:
    if mode.ark:
        return [mode.ark.size(resolution, ratio) for resolution in mode.resolutions]
    if mode.is_gateway:
        return [GATEWAY_SIZES[resolution][ratio] for resolution in mode.resolutions]
    return [mode.sizes[ratio]]


@pytest.mark.parametrize("mode", list(MODES.values()), ids=list(MODES))
def test_every_mode_has_a_size_for_each_ratio_and_a_price(mode: catalog.Mode) -> None:
    for ratio in mode.aspect_ratios:
        if ratio == "adaptive":
            continue
        for width, height in _sizes(mode, ratio):
            # Jimeng's sizes are multiples of 16; Ark's later ones only even (yuv420p).
            step = 2 if mode.ark and not mode.ark.first_v10 else 16
            assert width % step == 0 and height % step == 0
    price = catalog.DEFAULT_PRICES[mode.price_key]
    assert (price.cny_per_million_tokens or 0) > 0 if mode.is_ark else price.cny_per_second > 0


def test_ark_models_and_their_rules() -> None:
    pro = get_mode("seedance_1_5_pro")
    assert pro.is_ark and pro.req_key == "doubao-seedance-1-5-pro-251215"
    assert pro.durations[0] == 4 and catalog.AUTO_DURATION in pro.durations
    assert pro.ark.audio and pro.ark.draft and pro.ark.seed
    fast = get_mode("seedance_2_0_fast")
    assert fast.resolutions == ("480p", "720p") and not fast.ark.seed and fast.ark.references == 9
    lite = get_mode("seedance_1_0_lite_i2v")
    assert lite.min_images == 1 and lite.ark.references == 4
    assert catalog.AUTO_DURATION not in get_mode("seedance_1_0_pro").durations
    # The same model id is sold per second by the gateway and per token by Ark.
    gateway = get_mode("doubao-seedance-1-0-pro-250528")
    assert gateway.price_key != get_mode("seedance_1_0_pro").price_key


def test_no_retirement_is_built_in_and_retired_models_stay_known() -> None:
    """The 1.0 pro date came from an unconfirmed source: operators record retirements."""
    assert {mode.name for mode in catalog.offered_modes()} == set(catalog.MODES)
    retired = get_mode("seedance_1_0_pro").price_key
    assert "seedance_1_0_pro" not in {mode.name for mode in catalog.offered_modes({retired})}
    assert get_mode("seedance_1_0_pro").label == "Seedance 1.0 Pro (Ark)"  # old jobs keep it


def test_ark_tokens_follow_size_and_length() -> None:
    mode = get_mode("seedance_2_0")
    assert catalog.ark_tokens(mode, catalog.Order(5, "720p", "16:9")) == 108_900
    v10 = get_mode("seedance_1_0_pro")
    assert catalog.ark_tokens(v10, catalog.Order(5, "720p", "16:9")) == 1248 * 704 * 121 // 1024
    silent = catalog.estimate(get_mode("seedance_1_5_pro"), catalog.Order(5, "720p", "16:9"))
    sound = catalog.estimate(
        get_mode("seedance_1_5_pro"), catalog.Order(5, "720p", "16:9", audio=True)
    )
    assert (silent.cost_cny, sound.cost_cny) == (Decimal("0.87"), Decimal("1.74"))
    draft = catalog.estimate(
        get_mode("seedance_1_5_pro"), catalog.Order(5, "1080p", "16:9", draft=True)
    )
    assert draft.tokens == 864 * 496 * 121 // 1024  # a draft is 480p whatever was asked


def test_documented_output_sizes() -> None:
    assert get_mode("t2v_720p").sizes["9:16"] == (720, 1280)
    assert get_mode("t2v_720p").sizes["21:9"] == (1680, 720)
    assert get_mode("t2v_1080p").sizes["16:9"] == (1920, 1088)
    assert get_mode("ti2v_pro").sizes["21:9"] == (2176, 928)
    assert get_mode("s20_t2v").sizes["9:21"] == (720, 1680)
    assert GATEWAY_SIZES["480p"]["1:1"] == (640, 640)


@pytest.mark.parametrize(
    ("mode", "seconds", "cost"),
    [
        ("t2v_720p", 5, "3.00"),
        ("t2v_720p", 10, "6.00"),
        ("t2v_1080p", 5, "4.00"),
        ("t2v_1080p", 10, "8.00"),
        ("ti2v_pro", 5, "5.00"),
        ("ti2v_pro", 10, "10.00"),
        ("doubao-seedance-1-0-lite-t2v-250428", 3, "1.50"),
    ],
)
def test_estimate_is_price_times_seconds(mode: str, seconds: int, cost: str) -> None:
    assert estimate_cost(get_mode(mode), seconds) == Decimal(cost)


def test_seed_prices_are_not_estimates_and_the_rest_are() -> None:
    prices = catalog.DEFAULT_PRICES
    assert not prices["jimeng_t2v_v30"].is_estimate
    assert not prices["jimeng_ti2v_v30_pro"].is_estimate
    assert prices["jimeng_i2v_first_v30"].is_estimate
    assert prices["doubao-seedance-1-5-pro"].is_estimate


def test_estimate_refuses_a_duration_the_mode_does_not_make() -> None:
    with pytest.raises(ValueError, match="5, 10"):
        estimate_cost(get_mode("t2v_720p"), 6)


def test_modes_are_found_by_name_req_key_or_old_name() -> None:
    assert get_mode("jimeng_t2v_v30_pro") is get_mode("ti2v_pro")  # the older write-ups' name
    assert get_mode("jimeng_ti2v_v30_pro") is get_mode("ti2v_pro")
    assert get_mode("jimeng_i2v_first_v30_1080") is get_mode("i2v_first_1080p")
    with pytest.raises(KeyError, match="unknown mode"):
        get_mode("jimeng_t2v_v40")


def _codes(mode: str, **fields) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in check_input(get_mode(mode), GenerationInput(**fields))]


def test_valid_text_request_has_no_problems() -> None:
    assert _codes("t2v_720p", prompt="a cat", seconds=10, aspect_ratio="9:16") == []


def test_duration_six_is_refused_with_the_valid_values() -> None:
    problems = check_input(get_mode("t2v_720p"), GenerationInput(prompt="x", seconds=6))
    assert [p.code for p in problems] == ["duration_choice"]
    assert "5, 10" in problems[0].message


def test_prompt_limits() -> None:
    assert _codes("t2v_720p", prompt="x" * 801) == [("prompt", "prompt_too_long")]
    assert _codes("t2v_720p", prompt="猫" * 800) == []
    assert _codes("s20_t2v", prompt="x" * 151) == [("prompt", "prompt_too_long")]
    assert _codes("t2v_720p", prompt="  ") == [("prompt", "prompt_required")]
    assert _codes("t2v_720p", prompt="bell\x07") == [("prompt", "prompt_control")]
    assert _codes("ti2v_pro", prompt="") == [("prompt", "prompt_or_image")]
    assert _codes("ti2v_pro", prompt="", images_base64=("AAAA",)) == []


def test_image_rules() -> None:
    assert _codes("i2v_first_720p", prompt="") == [("images", "images_missing")]
    assert _codes("t2v_720p", prompt="x", image_urls=("http://a",)) == [("images", "images_unused")]
    assert _codes("i2v_first_720p", image_urls=("http://a", "http://b")) == [
        ("tail_image", "tail_unused")
    ]
    assert _codes("i2v_first_tail_720p", image_urls=("http://a",)) == [
        ("tail_image", "images_missing")
    ]
    assert _codes(
        "i2v_first_tail_720p", images_base64=("A", "B"), image_ratios=("16:9", "9:16")
    ) == [("tail_image", "ratio_mismatch")]
    assert _codes("i2v_first_720p", images_base64=("A",), image_urls=("u",)) == [
        ("images", "images_mixed")
    ]


def test_ratio_rules() -> None:
    assert _codes("i2v_first_720p", image_urls=("u",), aspect_ratio="16:9") == [
        ("aspect_ratio", "ratio_ignored")
    ]
    assert _codes("t2v_720p", prompt="x", aspect_ratio="9:21") == [("aspect_ratio", "ratio_choice")]
    assert _codes("s20_t2v", prompt="x", aspect_ratio="9:21") == []
    assert _codes("doubao-seedance-1-0-pro-250528", prompt="x", aspect_ratio="adaptive") == [
        ("aspect_ratio", "adaptive_needs_image")
    ]
    assert _codes("doubao-seedance-1-0-lite-t2v-250428", prompt="x", aspect_ratio="adaptive") == []


def test_camera_rules() -> None:
    assert _codes("i2v_recamera_720p", image_urls=("u",)) == [("template_id", "template_required")]
    assert _codes("i2v_recamera_720p", image_urls=("u",), template_id="zoom") == [
        ("template_id", "template_choice")
    ]
    assert _codes(
        "i2v_recamera_720p", image_urls=("u",), template_id="robo_arm", camera_strength="max"
    ) == [("camera_strength", "strength_choice")]
    assert _codes("t2v_720p", prompt="x", template_id="robo_arm") == [
        ("template_id", "camera_unused")
    ]


def test_bodies_follow_the_contract() -> None:
    t2v = build_body(
        get_mode("t2v_1080p"), GenerationInput(prompt="p", seconds=10, aspect_ratio="1:1")
    )
    assert t2v == {
        "req_key": "jimeng_t2v_v30_1080p",
        "prompt": "p",
        "seed": -1,
        "frames": 241,
        "aspect_ratio": "1:1",
    }
    first = build_body(
        get_mode("i2v_first_720p"), GenerationInput(images_base64=("QUJD",), image_ratios=("4:3",))
    )
    assert first == {
        "req_key": "jimeng_i2v_first_v30",
        "seed": -1,
        "frames": 121,
        "binary_data_base64": ["QUJD"],
    }
    camera = build_body(
        get_mode("i2v_recamera_720p"),
        GenerationInput(prompt="p", image_urls=("http://x/a.jpg",), template_id="robo_arm"),
    )
    assert camera["template_id"] == "robo_arm" and camera["camera_strength"] == "medium"
    assert "binary_data_base64" not in camera and camera["image_urls"] == ["http://x/a.jpg"]
    s20 = build_body(
        get_mode("s20_i2v"),
        GenerationInput(prompt="p", images_base64=("A",), image_ratios=("9:21",)),
    )
    assert s20["aspect_ratio"] == "9:21" and "frames" not in s20
    pro_image = build_body(
        get_mode("ti2v_pro"), GenerationInput(images_base64=("A",), image_ratios=("4:3",))
    )
    assert "aspect_ratio" not in pro_image


def test_gateway_body() -> None:
    body = build_body(
        get_mode("doubao-seedance-1-0-lite-i2v-250428"),
        GenerationInput(
            prompt="p", seconds=7, images_base64=("iVBORw0KGgoAAA",), seed=5, resolution="480p"
        ),
    )
    assert body["model"] == "doubao-seedance-1-0-lite-i2v-250428"
    assert body["duration"] == 7 and body["resolution"] == "480p" and body["size"] == "adaptive"
    assert body["images"] == ["data:image/png;base64,iVBORw0KGgoAAA"]
    assert body["metadata"] == '{"seed":5}'
