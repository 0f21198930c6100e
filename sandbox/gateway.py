"""The emulated OpenAI-style video gateway (docs/upstream/gateway.md)."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from sandbox import conf, faults
from sandbox.conf import SandboxSettings
from sandbox.store import Store, Task
from sandbox.tasks import (
    about,
    create_task,
    own_samples,
    parse_json,
    render_queue_full,
    site_of,
    status_of,
    store_for,
    video_url,
)
from sandbox.validate import Refusal, check_gateway

GATEWAY_WORDS = ("processing", "running", "in_progress")


def _openai_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": code, "code": code}}, status=status)


def _busy(code: int) -> JsonResponse:
    if code in (50429, 50430):
        return _openai_error(429, "rate_limit_exceeded", "Too many requests")
    return _openai_error(500, "internal_error", "Internal error")


def _bearer_ok(request: HttpRequest, config: SandboxSettings) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), config.gateway_key)


@csrf_exempt
def gateway_collection(request: HttpRequest) -> HttpResponseBase:
    config = conf.current()
    if request.method != "POST":
        return _openai_error(405, "method_not_allowed", "use POST to create a generation")
    if not _bearer_ok(request, config):
        return _openai_error(401, "invalid_api_key", "Incorrect API key provided")
    store = store_for(config)
    prompt, subject = about(store, "submit", request.body)
    call_id = store.admit(
        api="gateway", action="submit", access_key="gateway", qps=config.qps, subject=subject
    )
    if call_id is None:
        return _openai_error(429, "rate_limit_exceeded", "Too many requests")
    fault = faults.choose(config, store, "submit", prompt=prompt, subject=subject, call_id=call_id)
    return faults.answer(
        fault, store, call_id, config, lambda: _gateway_submit(request, config, store), _busy
    )


def _gateway_submit(request: HttpRequest, config: SandboxSettings, store: Store) -> JsonResponse:
    try:
        payload = parse_json(request.body)
        if render_queue_full(config):
            raise Refusal(429, "rate_limit_exceeded", "Too many generations in progress")
        accepted = check_gateway(
            payload, text_risk_marker=config.text_risk_marker, fetch=own_samples(request)
        )
    except Refusal as refusal:
        return _openai_error(refusal.http_status, str(refusal.code), refusal.message)
    task_id = f"cgt-{secrets.token_hex(12)}"
    task = create_task(
        api="gateway",
        access_key="gateway",
        accepted=accepted,
        body=payload,
        config=config,
        store=store,
        task_id=task_id,
    )
    response = JsonResponse(_gateway_view(task, "queued", None))
    response.sandbox_task_id = task_id  # type: ignore[attr-defined]
    return response


def _gateway_view(task: Task, status: str, url: str | None) -> dict[str, Any]:
    total = max(0.001, task.ready_at - task.created_at)
    progress = (
        100
        if status in ("succeeded", "failed")
        else min(99, int(100 * (time.time() - task.created_at) / total))
    )
    view: dict[str, Any] = {
        "id": task.id,
        "task_id": task.id,
        "object": "video",
        "model": task.req_key,
        "created_at": int(task.created_at),
        "status": status,
        "progress": progress,
    }
    if url:
        view["url"] = url
    if status == "failed":
        view["error"] = {
            "code": "content_policy",
            "message": "the output video did not pass review",
        }
    return view


@csrf_exempt
def gateway_item(request: HttpRequest, task_id: str) -> HttpResponseBase:
    config = conf.current()
    if not _bearer_ok(request, config):
        return _openai_error(401, "invalid_api_key", "Incorrect API key provided")
    store = store_for(config)
    prompt, subject = about(store, "query", b"", task_id)
    call_id = store.admit(
        api="gateway", action="query", access_key="gateway", qps=config.qps, subject=subject
    )
    if call_id is None:
        return _openai_error(429, "rate_limit_exceeded", "Too many requests")
    fault = faults.choose(config, store, "query", prompt=prompt, subject=subject, call_id=call_id)

    def answer() -> JsonResponse:
        task = store.get_task(task_id)
        status = status_of(task, config, store)
        if task is None or status in ("not_found", "expired"):
            return _openai_error(404, "task_not_found", f"no generation {task_id}")
        if status == "done":
            if task.outcome == "risk":
                return JsonResponse(_gateway_view(task, "failed", None))
            return JsonResponse(
                _gateway_view(task, "succeeded", video_url(site_of(request), task, config))
            )
        word = "queued" if status == "in_queue" else GATEWAY_WORDS[int(task.id[-2:], 16) % 3]
        return JsonResponse(_gateway_view(task, word, None))

    return faults.answer(fault, store, call_id, config, answer, _busy)
