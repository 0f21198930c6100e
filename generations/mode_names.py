"""The names of the modes as people read them, in their language.

The catalog (pure Python, shared with the command line) keeps English labels; pages use
these, which are marked for translation.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from generations.jimeng import catalog

LABELS: dict[str, Promise] = {
    "t2v_720p": _("Text to video · 720P"),
    "t2v_1080p": _("Text to video · 1080P"),
    "i2v_first_720p": _("Image to video, first frame · 720P"),
    "i2v_first_1080p": _("Image to video, first frame · 1080P"),
    "i2v_first_tail_720p": _("First and last frame · 720P"),
    "i2v_first_tail_1080p": _("First and last frame · 1080P"),
    "i2v_recamera_720p": _("Camera movement · 720P"),
    "ti2v_pro": _("Video 3.0 Pro · text or image · 1080P"),
    "s20_t2v": _("S2.0 Pro · text to video"),
    "s20_i2v": _("S2.0 Pro · image to video"),
    "doubao-seedance-1-0-pro-250528": _("Seedance 1.0 Pro"),
    "doubao-seedance-1-0-pro-fast-251015": _("Seedance 1.0 Pro Fast"),
    "doubao-seedance-1-0-lite-t2v-250428": _("Seedance 1.0 Lite T2V"),
    "doubao-seedance-1-0-lite-i2v-250428": _("Seedance 1.0 Lite I2V"),
    "doubao-seedance-1-5-pro": _("Seedance 1.5 Pro"),
    "seedance_1_0_pro": _("Seedance 1.0 Pro (Ark)"),
    "seedance_1_0_pro_fast": _("Seedance 1.0 Pro Fast (Ark)"),
    "seedance_1_0_lite_t2v": _("Seedance 1.0 Lite, text (Ark)"),
    "seedance_1_0_lite_i2v": _("Seedance 1.0 Lite, image (Ark)"),
    "seedance_1_5_pro": _("Seedance 1.5 Pro (Ark)"),
    "seedance_2_0": _("Seedance 2.0 (Ark)"),
    "seedance_2_0_fast": _("Seedance 2.0 Fast (Ark)"),
    "seedance_2_0_mini": _("Seedance 2.0 Mini (Ark)"),
    "seedance_2_5": _("Seedance 2.5 (Ark)"),
}


def mode_label(name: str) -> str:
    """The mode's name for people; a mode the catalog no longer knows keeps its code."""
    label = LABELS.get(name)
    if label is not None:
        return str(label)
    mode = catalog.MODES.get(name)
    return mode.label if mode else name
