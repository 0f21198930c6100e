"""`Idempotency-Key` for every API write that can cost money (docs/api.md), in one place:
`operation(..., idempotent=True)` wraps the operation in `idempotent`.

The first request with a key runs, and its answer is kept with the key; a repeat with
the same request gets that answer again (a 201 becomes a 200: nothing new was made) and
runs nothing — even when it arrives while the first is still running: the key is
claimed in a transaction of its own under a unique index, and the repeat waits for the
first to finish. A repeat with a different request is 422. A request that made nothing
(refused, invalid) frees its key, so a corrected retry may use it. Keys belong to a
token, and are taken whole or refused: never cut short, which made two long keys one.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
import time
import typing
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.responses import NinjaJSONEncoder
from ninja.responses import Status as Answer

from generations.models import ApiToken, IdempotencyKey

HEADER = "Idempotency-Key"
KEY = re.compile(r"^[\x20-\x7e]{1,120}$")  # printable ASCII, as the model's column holds
WAIT_SECONDS = 10.0
REPLAYED = "Idempotent-Replayed"


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(request, *args, **kwargs)
        if not KEY.match(key):
            raise HttpError(
                400,
                _(
                    "An Idempotency-Key is 1 to 120 printable ASCII characters; this one "
                    "is not (keys are never cut short)."
                ),
            )
        token = request.auth.token  # type: ignore[attr-defined]  # TokenAuth's ApiAccess
        earlier = _claim(token, key, _fingerprint(request))
        if earlier is not None:
            return earlier
        try:
            result = view(request, *args, **kwargs)
        except BaseException:
            _let_go(token, key)
            raise
        status, content = _rendered(result)
        if 200 <= status < 300:
            _keep(token, key, status, content)
        else:
            _let_go(token, key)
        return result

    # Ninja reads the operation's parameters from its signature, resolving names in the
    # function's own module: give the wrapper the view's, already resolved.
    hints = typing.get_type_hints(view, include_extras=True)
    signature = inspect.signature(view)
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            parameter.replace(annotation=hints.get(name, parameter.annotation))
            for name, parameter in signature.parameters.items()
        ],
        return_annotation=hints.get("return", signature.return_annotation),
    )
    return wrapper


def _fingerprint(request: HttpRequest) -> str:
    """The request, as far as a repeat must match it: where it goes and what it says."""
    digest = hashlib.sha256(f"{request.method} {request.path}\0".encode())
    if request.content_type == "multipart/form-data":
        for name, values in sorted(request.POST.lists()):
            digest.update(json.dumps([name, values]).encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(name.encode() + b"\0")
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


def _rendered(result: Any) -> tuple[int, str]:
    """The status and body the client gets for `result` (what Ninja will send)."""
    if isinstance(result, HttpResponse):
        return result.status_code, result.content.decode()
    if isinstance(result, Answer):
        return result.status_code, json.dumps(result.value, cls=NinjaJSONEncoder)
    return 200, json.dumps(result, cls=NinjaJSONEncoder)


def _made(content: str) -> int | None:
    """The job a kept answer names, to link the key to it."""
    try:
        job_id = json.loads(content).get("id")
        return int(job_id) if job_id is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def _keep(token: ApiToken, key: str, status: int, content: str) -> None:
    IdempotencyKey.objects.filter(token=token, key=key).update(
        status=status, response=content, generation_id=_made(content)
    )


def _let_go(token: ApiToken, key: str) -> None:
    IdempotencyKey.objects.filter(token=token, key=key, status=None).delete()


def _replay(claim: IdempotencyKey) -> HttpResponse:
    status = 200 if claim.status == 201 else claim.status or 200
    response = HttpResponse(claim.response, status=status, content_type="application/json")
    response[REPLAYED] = "true"
    return response


def _claim(token: ApiToken, key: str, fingerprint: str) -> HttpResponse | None:
    """None when this request is the first with its key; else the answer to give."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(token=token, key=key, request_hash=fingerprint)
        return None
    except IntegrityError:
        pass
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        claim = IdempotencyKey.objects.filter(token=token, key=key).first()
        if claim is None:  # the first request made nothing and let go: this one goes ahead
            return _claim(token, key, fingerprint)
        if claim.request_hash != fingerprint:
            raise HttpError(422, _("This Idempotency-Key was used for a different request."))
        if claim.status is not None:
            return _replay(claim)
        if time.monotonic() > deadline:
            raise HttpError(
                409, _("A request with this Idempotency-Key is still running; try again.")
            )
        time.sleep(0.1)
