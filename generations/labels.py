"""How the studio names things for people, in their language: the modes (the catalog,
pure Python and shared with the command line, keeps English labels) and why a job
failed, from its failure code."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from generations.jimeng import catalog

LABELS: dict[str, Promise] = {
    "t2v_720p": gettext_lazy("Text to video · 720P"),
    "t2v_1080p": gettext_lazy("Text to video · 1080P"),
    "i2v_first_720p": gettext_lazy("Image to video, first frame · 720P"),
    "i2v_first_1080p": gettext_lazy("Image to video, first frame · 1080P"),
    "i2v_first_tail_720p": gettext_lazy("First and last frame · 720P"),
    "i2v_first_tail_1080p": gettext_lazy("First and last frame · 1080P"),
    "i2v_recamera_720p": gettext_lazy("Camera movement · 720P"),
    "ti2v_pro": gettext_lazy("Video 3.0 Pro · text or image · 1080P"),
    "s20_t2v": gettext_lazy("S2.0 Pro · text to video"),
    "s20_i2v": gettext_lazy("S2.0 Pro · image to video"),
    "doubao-seedance-1-0-pro-250528": gettext_lazy("Seedance 1.0 Pro"),
    "doubao-seedance-1-0-pro-fast-251015": gettext_lazy("Seedance 1.0 Pro Fast"),
    "doubao-seedance-1-0-lite-t2v-250428": gettext_lazy("Seedance 1.0 Lite T2V"),
    "doubao-seedance-1-0-lite-i2v-250428": gettext_lazy("Seedance 1.0 Lite I2V"),
    "doubao-seedance-1-5-pro": gettext_lazy("Seedance 1.5 Pro"),
    "seedance_1_0_pro": gettext_lazy("Seedance 1.0 Pro (Ark)"),
    "seedance_1_0_pro_fast": gettext_lazy("Seedance 1.0 Pro Fast (Ark)"),
    "seedance_1_0_lite_t2v": gettext_lazy("Seedance 1.0 Lite, text (Ark)"),
    "seedance_1_0_lite_i2v": gettext_lazy("Seedance 1.0 Lite, image (Ark)"),
    "seedance_1_5_pro": gettext_lazy("Seedance 1.5 Pro (Ark)"),
    "seedance_2_0": gettext_lazy("Seedance 2.0 (Ark)"),
    "seedance_2_0_fast": gettext_lazy("Seedance 2.0 Fast (Ark)"),
    "seedance_2_0_mini": gettext_lazy("Seedance 2.0 Mini (Ark)"),
    "seedance_2_5": gettext_lazy("Seedance 2.5 (Ark)"),
}


# A camera job's movement and strength, as the generate form offers them.
CAMERA_DESCRIPTIONS = {
    "hitchcock_dolly_in": gettext_lazy(
        "Hitchcock zoom in: the subject stays, the background rushes away"
    ),
    "hitchcock_dolly_out": gettext_lazy(
        "Hitchcock zoom out: the subject stays, the background closes in"
    ),
    "robo_arm": gettext_lazy("Robotic arm: a smooth, swooping mechanical move"),
    "dynamic_orbit": gettext_lazy("Dynamic orbit: circle the subject with energy"),
    "central_orbit": gettext_lazy("Central orbit: a steady circle around the centre"),
    "crane_push": gettext_lazy("Crane push: rise and move in"),
    "quick_pull_back": gettext_lazy("Quick pull back: pull away fast to reveal the scene"),
    "counterclockwise_swivel": gettext_lazy("Counter-clockwise swivel"),
    "clockwise_swivel": gettext_lazy("Clockwise swivel"),
    "handheld": gettext_lazy("Handheld: natural, slightly shaky"),
    "rapid_push_pull": gettext_lazy("Rapid push-pull: in and out quickly"),
}


STRENGTH_LABELS = {
    "weak": gettext_lazy("Weak"),
    "medium": gettext_lazy("Medium"),
    "strong": gettext_lazy("Strong"),
}


def camera_label(template_id: str, strength: str) -> str:
    """A camera job's movement and strength in words ("Robotic arm: … · Strong"); the
    codes only for ones we do not know."""
    movement = CAMERA_DESCRIPTIONS.get(template_id, template_id)
    return f"{movement} · {STRENGTH_LABELS.get(strength, strength)}" if strength else str(movement)


def mode_label(name: str) -> str:
    """The mode's name for people; a mode the catalog no longer knows keeps its code."""
    label = LABELS.get(name)
    if label is not None:
        return str(label)
    mode = catalog.MODES.get(name)
    return mode.label if mode else name


def _messages() -> dict[str, str]:
    return {
        "50411": _("The input image did not pass content review."),
        "50412": _("The prompt did not pass content review. Rephrase it and try again."),
        "50413": _("The prompt contains sensitive or copyrighted words."),
        "50511": _("The generated images did not pass content review. Running it again may work."),
        "50512": _("The result did not pass content review."),
        "50516": _("The generated video did not pass content review. Running it again may work."),
        "50517": _("The generated audio did not pass content review. Running it again may work."),
        "50518": _("The input image is copyrighted."),
        "50519": _("The result did not pass copyright review. Running it again may work."),
        "50520": _("The content review service failed."),
        "50521": _("The content review service failed."),
        "50522": _("The content review service failed."),
        "50200": _("The service refused the request's parameters."),
        "50201": _("The service said a parameter was missing."),
        "50204": _("The service could not read the request."),
        "50213": _("The request was too large for the service."),
        "50400": _("The upstream key was refused."),
        "100009": _("The upstream access key is not recognised."),
        "100010": _("The upstream secret key does not match (bad signature)."),
        "100013": _("The upstream key may not use the video API."),
        "not_found": _("The service no longer knows this task (tasks are kept 12 hours)."),
        "expired": _("The task expired upstream. Run it again."),
        "submit_unknown": _(
            "It is unknown whether the request reached the service, "
            "so it was not sent again (to avoid paying twice)."
        ),
        "link_expired": _("The video link expired before the video could be saved."),
        "download_refused": _("The video server refused the download."),
        "address_refused": _(
            "The video link pointed to an address the studio may not fetch (a private or "
            "internal address)."
        ),
        "address": _(
            "The key's endpoint may not be used: keys only go to the official API hosts or "
            "to hosts the operator allowed."
        ),
        "address_private": _(
            "The key's endpoint is on a host the operator allowed, but that host resolves "
            "to a loopback or private address, which the studio may not connect to."
        ),
        "download_failed": _("The video could not be downloaded after several tries."),
        "bad_video": _("The file the service returned is not a playable video."),
        "no_video": _("The service finished without a video."),
        "deadline": _("No result arrived before the deadline."),
        "no_credential": _("The team has no upstream key for this mode."),
        "storage": _("The files could not be stored."),
        "upload_interrupted": _("The upload of the images did not finish."),
        "cancelled": _("Cancelled before it was sent."),
    }


def failure_reason(code: str, detail: str = "") -> str:
    """Why a job failed, from its failure code (and the upstream's detail)."""
    known = _messages().get(code)
    if known:
        return known
    if detail:
        return _("The service reported an error: %(detail)s") % {"detail": detail}
    return _("The job failed (%(code)s).") % {"code": code or "?"}
