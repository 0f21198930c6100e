"""Starting a job from a script: the web page's GenerateForm checks it (same rules, same
messages) and the same service reserves the money (docs/api.md). `Idempotency-Key` is
`idempotency.py`'s, around the operation."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.http import QueryDict
from django.utils.translation import gettext as _

from generations.api.auth import MEMBER, ApiAccess
from generations.errors import Refused
from generations.forms.generate import GenerateForm
from generations.models import Generation
from generations.services.jobs import available_modes, start_variants_from_form
from generations.services.ledger import QuotaExceeded

DATA_URI = re.compile(r"^data:image/(jpeg|jpg|png|webp);base64,(.*)$", re.S | re.I)
MAX_IMAGE_BYTES = 20 * 1024 * 1024


class BadImage(ValueError):
    pass


def image_fields(
    value: str | None, name: str, *, bare_base64: bool = False
) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """An image given as text: a data URI (or, with `bare_base64`, plain base64) becomes
    an upload, checked and fitted like any other; an http(s) URL stays a URL."""
    value = (value or "").strip()
    if not value:
        return {}, {}
    match = DATA_URI.match(value)
    if match is not None:
        encoded = match.group(2)
    elif bare_base64 and not value.lower().startswith(("http://", "https://")):
        encoded = value
    else:
        return {f"{name}_url": value}, {}
    if len(encoded) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise BadImage(_("The file is larger than 20 MB."))
    try:
        data = base64.b64decode(re.sub(r"\s+", "", encoded), validate=True)
    except (binascii.Error, ValueError):
        raise BadImage(_("The image is not valid base64.")) from None
    # The name's extension is a guess; fit_image reads the real format from the bytes.
    return {}, {name: SimpleUploadedFile(f"{name}.img", data)}


def form_data(fields: dict[str, object]) -> QueryDict:
    """Values as the web form posts them: no key for "not given" or an unticked box."""
    data = QueryDict(mutable=True)
    for key, value in fields.items():
        if value is None or value is False:
            continue
        data[key] = "on" if value is True else str(value)
    return data


@dataclass
class Outcome:
    """The job made (with its variants), or why there is none."""

    status: int
    job: Generation | None = None
    variants: list[Generation] = field(default_factory=list)  # the submit's jobs, job first
    detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    code: str = ""


def create(access: ApiAccess, data: QueryDict, files: Mapping[str, UploadedFile]) -> Outcome:
    access.require(MEMBER)
    team = access.access.team
    form = GenerateForm(data, dict(files), team=team, modes=available_modes(team))
    try:
        if not form.is_valid() or form.request_input is None:
            return _invalid(form)
        made = start_variants_from_form(form, user=access.token.user)
    except QuotaExceeded as refusal:
        return Outcome(402, detail=str(refusal), code="quota_exceeded")
    except Refused as refusal:
        return Outcome(409, detail=str(refusal), code="refused")
    return Outcome(201, made[0], variants=made)


def _invalid(form: GenerateForm) -> Outcome:
    errors = {
        ("request" if name == "__all__" else name): [str(message) for message in messages]
        for name, messages in form.errors.items()
    }
    return Outcome(
        400, detail=_("The request has problems."), errors=errors, code="invalid_request"
    )
