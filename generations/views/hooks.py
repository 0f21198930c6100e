"""Where upstreams call the studio back: Ark's per-job callback URLs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from generations.access import public_view
from generations.services import callbacks, pipeline
from generations.services.queue import once_committed

MAX_CALLBACK_BYTES = 256 * 1024


@public_view
@csrf_exempt
@require_POST
def ark_callback(request: HttpRequest, callback: str) -> HttpResponse:
    """Answer at once; the job's next GET (not this unsigned body) decides what happened."""
    body = request.body[:MAX_CALLBACK_BYTES]
    woken = callbacks.received(callback, body)
    if woken is None:
        return HttpResponse(status=404)
    if woken:
        once_committed(pipeline.kick)
    return HttpResponse(status=204)
