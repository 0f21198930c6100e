"""Injected faults (docs/emulator.md): drawn at the configured rates, or scripted by
prompt markers; slow answers are bounded site-wide."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator

from django.http import JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from sandbox.conf import SandboxSettings
from sandbox.store import Store

QUERY_SCRIPT = re.compile(r"\[sandbox:faults=([a-z0-9,]+)\]")

SUBMIT_SCRIPT = re.compile(r"\[sandbox:submit-faults=([a-z0-9,]+)\]")


def choose(
    config: SandboxSettings, store: Store, kind: str, *, prompt: str, subject: str, call_id: int
) -> str | None:
    """This call's fault: '50429', '50430', '50500', 'slow', 'drop' or None.

    A prompt may carry a script, e.g. `[sandbox:faults=slow,50429]`: that task's first
    query is slow, its second answers 50429, and later ones are normal. Without a
    script, faults are drawn at the configured rates.
    """
    script = (SUBMIT_SCRIPT if kind == "submit" else QUERY_SCRIPT).search(prompt)
    if script:
        steps = script.group(1).split(",")
        earlier = store.earlier_calls(subject=subject, before=call_id)
        return steps[earlier] if earlier < len(steps) else None
    if kind not in config.fault_actions:
        return None
    roll = secrets.SystemRandom().random()
    for name, rate in (
        ("50429", config.fault_50429),
        ("50500", config.fault_50500),
        ("drop", config.fault_drop),
        ("slow", config.fault_slow),
    ):
        if roll < rate:
            return name
        roll -= rate
    return None


def dropped() -> StreamingHttpResponse:
    """Start an answer and break the connection half-way, like a reset peer."""

    def broken() -> Iterator[bytes]:
        yield b'{"code":10000,"da'
        raise ConnectionAbortedError("sandbox fault: connection dropped")

    response = StreamingHttpResponse(broken(), content_type="application/json")
    response["Content-Length"] = "400"
    return response


# A refusal in the API's own envelope, for a business code (50429 or 50500).
Refuse = Callable[[int], JsonResponse]


def answer(
    fault: str | None,
    store: Store,
    call_id: int,
    config: SandboxSettings,
    handle: Callable[[], JsonResponse],
    refuse: Refuse,
) -> HttpResponseBase:
    """Answer a call with its fault, or normally through `handle`; log the outcome."""
    if fault in ("50429", "50430", "50500"):
        code = int(fault)
        store.record_outcome(call_id, http_status=500 if code == 50500 else 429, code=code)
        return refuse(code)
    if fault == "drop":
        store.record_outcome(call_id, http_status=0, code=None)
        return dropped()
    if fault == "slow":
        # Held answers tie up a web worker each: only a few at a time, site-wide; the
        # rest are told to come back later, as a busy service would.
        hold = store.hold("slow", limit=config.max_slow_answers, seconds=config.slow_seconds + 5)
        if hold is None:
            return answer("50429", store, call_id, config, handle, refuse)
        try:
            time.sleep(config.slow_seconds)
        finally:
            store.release_hold(hold)
    response = handle()
    code = json.loads(response.content).get("code")
    store.record_outcome(
        call_id,
        http_status=response.status_code,
        code=code if isinstance(code, int) else None,
        task_id=getattr(response, "sandbox_task_id", None),
    )
    return response
