"""Why a job failed, in plain words for people (translated), from its failure code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

if TYPE_CHECKING:  # the model shows its reason through this module
    from generations.models import Generation


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


def failure_reason(generation: Generation) -> str:
    known = _messages().get(generation.failure_code)
    if known:
        return known
    if generation.failure_detail:
        return _("The service reported an error: %(detail)s") % {
            "detail": generation.failure_detail
        }
    return _("The job failed (%(code)s).") % {"code": generation.failure_code or "?"}
