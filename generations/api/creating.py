"""Starting a job from a script: the web page's GenerateForm checks it (same rules, same
messages), the same service reserves the money, and an `Idempotency-Key` makes a
repeated request answer with the job the first one made (docs/api.md)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from generations.api.auth import MEMBER, ApiAccess
from generations.errors import Refused
from generations.forms.generate import GenerateForm
from generations.ledger import QuotaExceeded
from generations.models import Generation, IdempotencyKey
from generations.services.jobs import available_modes, start_variants_from_form

DATA_URI = re.compile(r"^data:image/(jpeg|jpg|png|webp);base64,(.*)$", re.S | re.I)
MAX_IMAGE_BYTES = 20 * 1024 * 1024
# How long a repeat waits for the first request with its key to make the job.
IDEMPOTENT_WAIT_SECONDS = 10.0
KEY_LENGTH = 120


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


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass
class Outcome:
    """A job (made now, or earlier for the same Idempotency-Key) or why there is none."""

    status: int
    job: Generation | None = None
    variants: list[Generation] = field(default_factory=list)  # the submit's jobs, job first
    detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    code: str = ""


def create(
    access: ApiAccess,
    data: QueryDict,
    files: Mapping[str, UploadedFile],
    request_hash: str,
    idempotency_key: str = "",
) -> Outcome:
    access.require(MEMBER)
    key = idempotency_key.strip()[:KEY_LENGTH]
    if key:
        earlier = _claim(access, key, request_hash)
        if earlier is not None:
            return earlier
    team = access.access.team
    form = GenerateForm(data, dict(files), team=team, modes=available_modes(team))
    try:
        if not form.is_valid() or form.request_input is None:
            return _let_go(access, key, _invalid(form))
        made = start_variants_from_form(form, user=access.token.user)
    except QuotaExceeded as refusal:
        return _let_go(access, key, Outcome(402, detail=str(refusal), code="quota_exceeded"))
    except Refused as refusal:
        return _let_go(access, key, Outcome(409, detail=str(refusal), code="refused"))
    except BaseException:
        _let_go(access, key, Outcome(500))
        raise
    if key:
        IdempotencyKey.objects.filter(token=access.token, key=key).update(generation=made[0])
    return Outcome(201, made[0], variants=made)


def _invalid(form: GenerateForm) -> Outcome:
    errors = {
        ("request" if name == "__all__" else name): [str(message) for message in messages]
        for name, messages in form.errors.items()
    }
    return Outcome(
        400, detail=_("The request has problems."), errors=errors, code="invalid_request"
    )


def _let_go(access: ApiAccess, key: str, outcome: Outcome) -> Outcome:
    """A request that made no job frees its key: a corrected retry may use it."""
    if key:
        IdempotencyKey.objects.filter(token=access.token, key=key, generation=None).delete()
    return outcome


def _claim(access: ApiAccess, key: str, request_hash: str) -> Outcome | None:
    """None when this request is the first with its key; else the first one's answer.

    The key is claimed in a transaction of its own: a concurrent repeat meets the unique
    index, then waits (briefly) for the first request's job."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(token=access.token, key=key, request_hash=request_hash)
        return None
    except IntegrityError:
        pass
    deadline = time.monotonic() + IDEMPOTENT_WAIT_SECONDS
    while True:
        claim = IdempotencyKey.objects.filter(token=access.token, key=key).first()
        if claim is None:  # the first request failed and let go: this one goes ahead
            return _claim(access, key, request_hash)
        if claim.request_hash != request_hash:
            detail = _("This Idempotency-Key was used for a different request.")
            return Outcome(422, detail=detail, code="idempotency_key_reused")
        if claim.generation_id is not None:
            job = Generation.objects.select_related("team").get(pk=claim.generation_id)
            return Outcome(200, job)
        if time.monotonic() > deadline:
            detail = _("A request with this Idempotency-Key is still running; try again.")
            return Outcome(409, detail=detail, code="idempotency_key_busy")
        time.sleep(0.1)
