"""The emulator's endpoints: Volcengine's visual API, the video gateway, and video files.

They behave as docs/emulator.md describes: signatures are verified, bodies are
validated per req_key, tasks move in_queue → generating → done over the configured
time, video links really expire, and faults are injected at the configured rates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from generations.jimeng.signer import SigningInput, parse_authorization
from sandbox import conf, render, samples
from sandbox.conf import SandboxSettings
from sandbox.store import Store, Task
from sandbox.validate import (
    Accepted,
    ImageFetcher,
    Refusal,
    check_gateway,
    check_volcengine,
    invalid,
)

log = logging.getLogger(__name__)

API_VERSION = "2022-08-31"
SUBMIT = "CVSync2AsyncSubmitTask"
RESULT = "CVSync2AsyncGetResult"
MAX_BODY_BYTES = 32 * 1024 * 1024
CLOCK_SKEW_SECONDS = 15 * 60
RENDER_STALE_SECONDS = 30  # renders take seconds; a claim this old belongs to a dead process
SECONDS_MARKER = re.compile(r"\[sandbox:seconds=(\d+(?:\.\d+)?)\]")

_renderer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox-render")
_rendering: set[str] = set()
_rendering_lock = threading.Lock()


def drain_renders(timeout: float = 30.0) -> None:
    """Wait for this process's renders to finish (tests call it before cleaning up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _rendering_lock:
            if not _rendering:
                return
        time.sleep(0.05)


def _own_samples(request: HttpRequest) -> ImageFetcher:
    """image_urls may only name the emulator's own samples; nothing is downloaded."""
    host = request.get_host()

    def fetch(url: str, label: str) -> bytes:
        try:
            return samples.for_url(url, host=host)
        except samples.NotASample:
            raise invalid(
                f"{label}: the sandbox only takes its own sample images as URLs"
                f" ({request.build_absolute_uri('/sandbox/samples/landscape.jpg')} and others)"
            ) from None

    return fetch


def _store(config: SandboxSettings) -> Store:
    return Store(config.directory)


def _request_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(9).upper()


def _elapsed(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.6f}ms"


# --- Volcengine envelopes ------------------------------------------------------------


def _business(
    code: int, message: str, data: Any, started: float, http_status: int = 200
) -> JsonResponse:
    payload = {
        "code": code,
        "data": data,
        "message": message,
        "request_id": _request_id(),
        "status": code,
        "time_elapsed": _elapsed(started),
    }
    return JsonResponse(payload, status=http_status, json_dumps_params={"ensure_ascii": False})


def _gateway_error(
    http_status: int, code: str, code_n: int, message: str, action: str
) -> JsonResponse:
    payload = {
        "ResponseMetadata": {
            "RequestId": _request_id(),
            "Action": action,
            "Version": API_VERSION,
            "Service": "cv",
            "Region": "cn-north-1",
            "Error": {"CodeN": code_n, "Code": code, "Message": message},
        }
    }
    return JsonResponse(payload, status=http_status)


def _verify_signature(
    request: HttpRequest, body: bytes, config: SandboxSettings, action: str
) -> JsonResponse | None:
    """None when the request is signed with the sandbox key; otherwise the refusal."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return _gateway_error(
            401,
            "MissingAuthenticationToken",
            100003,
            "Request is missing Authentication Token.",
            action,
        )
    auth = parse_authorization(header)
    date = request.META.get("HTTP_X_DATE", "")
    if auth is None or not date:
        return _gateway_error(
            400,
            "MissingRequestInfo",
            100004,
            "The request is missing X-Date or a valid Authorization.",
            action,
        )
    if auth.access_key != config.access_key:
        return _gateway_error(
            401,
            "InvalidAccessKey",
            100009,
            f"The accesskey [{auth.access_key}] included in the request is invalid.",
            action,
        )
    try:
        signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        signed_at = None
    if (
        signed_at is None
        or abs((datetime.now(UTC) - signed_at).total_seconds()) > CLOCK_SKEW_SECONDS
    ):
        return _gateway_error(
            400, "InvalidTimestamp", 100006, "The Signature of the request is expired.", action
        )
    signing = SigningInput(
        "POST",
        request.META.get("HTTP_HOST", ""),
        request.path,
        tuple(parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)),
        body,
        date,
        content_type=request.META.get("CONTENT_TYPE", ""),
    )
    expected = signing.signature(config.secret_key)
    claimed_hash = request.META.get("HTTP_X_CONTENT_SHA256", "")
    if not hmac.compare_digest(expected, auth.signature) or claimed_hash != signing.body_hash:
        return _gateway_error(
            401,
            "SignatureDoesNotMatch",
            100010,
            "The request signature we calculated does not match the signature you provided. "
            "Check your Secret Access Key and signing method.",
            action,
        )
    return None


MARKERS = re.compile(r"\s*\[sandbox:[^\]]*\]")


def visible_prompt(prompt: str) -> str:
    """The prompt as drawn in the video: `[sandbox:…]` markers are directives to the
    emulator, not content (and jobs differing only in them share one render)."""
    return MARKERS.sub("", prompt).strip()


QUERY_SCRIPT = re.compile(r"\[sandbox:faults=([a-z0-9,]+)\]")
SUBMIT_SCRIPT = re.compile(r"\[sandbox:submit-faults=([a-z0-9,]+)\]")


def _fault(
    config: SandboxSettings, store: Store, kind: str, *, prompt: str, subject: str, call_id: int
) -> str | None:
    """This call's fault: '50429', '50500', 'slow', 'drop' or None.

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


def _dropped() -> StreamingHttpResponse:
    """Start an answer and break the connection half-way, like a reset peer."""

    def broken() -> Iterator[bytes]:
        yield b'{"code":10000,"da'
        raise ConnectionAbortedError("sandbox fault: connection dropped")

    response = StreamingHttpResponse(broken(), content_type="application/json")
    response["Content-Length"] = "400"
    return response


@csrf_exempt
def volcengine(request: HttpRequest) -> HttpResponseBase:
    started = time.perf_counter()
    config = conf.current()
    action = request.GET.get("Action", "")
    if request.method != "POST":
        return _gateway_error(
            405, "InvalidActionOrVersion", 100008, "Only POST is supported.", action
        )
    if not action or not request.GET.get("Version"):
        return _gateway_error(
            400,
            "MissingParameter",
            100002,
            "The request is missing Action or Version parameter.",
            action,
        )
    body = request.body
    refusal = _verify_signature(request, body, config, action)
    if refusal is not None:
        return refusal
    if action not in (SUBMIT, RESULT) or request.GET.get("Version") != API_VERSION:
        message = f"Could not find operation {action} for version {request.GET.get('Version')}."
        return _gateway_error(404, "InvalidActionOrVersion", 100008, message, action)
    kind = "submit" if action == SUBMIT else "query"
    store = _store(config)
    prompt, subject = _about(store, kind, body)
    call_id = store.admit(
        api="volcengine", action=kind, access_key=config.access_key, qps=config.qps, subject=subject
    )
    if call_id is None:
        return _business(50429, "Request Has Reached API Limit", None, started, 429)
    fault = _fault(config, store, kind, prompt=prompt, subject=subject, call_id=call_id)
    handler = _submit if kind == "submit" else _result
    return _with_fault(
        fault,
        store,
        call_id,
        config,
        lambda: handler(request, body, config, store, started),
        started,
    )


def _about(store: Store, kind: str, body: bytes, task_id: str | None = None) -> tuple[str, str]:
    """The prompt a call concerns and the subject it is logged under."""
    if kind == "submit":
        try:
            prompt = json.loads(body).get("prompt") or ""
        except (ValueError, AttributeError):
            prompt = ""
        return str(prompt), "submit:" + hashlib.sha256(body).hexdigest()[:24]
    if task_id is None:
        try:
            task_id = str(json.loads(body).get("task_id") or "")
        except (ValueError, AttributeError):
            task_id = ""
    task = store.get_task(task_id) if task_id else None
    return (task.prompt if task else ""), f"query:{task_id}"


def _with_fault(
    fault: str | None,
    store: Store,
    call_id: int,
    config: SandboxSettings,
    handle: Callable[[], JsonResponse],
    started: float,
    gateway: bool = False,
) -> HttpResponseBase:
    if fault == "50429":
        store.record_outcome(call_id, http_status=429, code=50429)
        if gateway:
            return _openai_error(429, "rate_limit_exceeded", "Too many requests")
        return _business(50429, "Request Has Reached API Limit", None, started, 429)
    if fault == "50500":
        store.record_outcome(call_id, http_status=500, code=50500)
        if gateway:
            return _openai_error(500, "internal_error", "Internal error")
        return _business(50500, "Internal Error", None, started, 500)
    if fault == "drop":
        store.record_outcome(call_id, http_status=0, code=None)
        return _dropped()
    if fault == "slow":
        # Held answers tie up a web worker each: only a few at a time, site-wide; the
        # rest are told to come back later, as a busy service would.
        hold = store.hold("slow", limit=config.max_slow_answers, seconds=config.slow_seconds + 5)
        if hold is None:
            return _with_fault("50429", store, call_id, config, handle, started, gateway)
        try:
            time.sleep(config.slow_seconds)
        finally:
            store.release_hold(hold)
    response = handle()
    task_id = getattr(response, "sandbox_task_id", None)
    code = json.loads(response.content).get("code") if not gateway else None
    store.record_outcome(
        call_id,
        http_status=response.status_code,
        code=code if isinstance(code, int) else None,
        task_id=task_id,
    )
    return response


def _generation_seconds(config: SandboxSettings, prompt: str, seed: Any) -> float:
    marker = SECONDS_MARKER.search(prompt)
    if marker:
        return float(marker.group(1))
    spread = config.generation_seconds_max - config.generation_seconds
    if spread <= 0:
        return config.generation_seconds
    # Fixed by the prompt and seed, so a rerun of the same jobs takes the same time.
    fraction = int.from_bytes(hashlib.sha256(f"{prompt}\0{seed}".encode()).digest()[:4]) / 2**32
    return config.generation_seconds + spread * fraction


def _outcome(config: SandboxSettings, prompt: str) -> str:
    if config.video_risk_marker and config.video_risk_marker in prompt:
        return "risk"
    if config.expired_marker and config.expired_marker in prompt:
        return "expired"
    return "ok"


def _create_task(
    *,
    api: str,
    access_key: str,
    accepted: Accepted,
    body: dict[str, Any],
    config: SandboxSettings,
    store: Store,
    task_id: str,
) -> Task:
    key = render.render_key(
        width=accepted.width,
        height=accepted.height,
        frames=accepted.frames,
        prompt=visible_prompt(accepted.prompt),
        images=accepted.images,
    )
    for index, image in enumerate(accepted.images):
        path = store.inputs / f"{key}-{index}.img"
        if not path.exists():
            path.write_bytes(image)
    now = time.time()
    # Keep the request for audits, with images reduced to how many were sent.
    summary = {
        key: f"<{len(value)} image(s)>" if key in ("binary_data_base64", "images") else value
        for key, value in body.items()
    }
    task = Task(
        id=task_id,
        api=api,
        access_key=access_key,
        req_key=accepted.req_key,
        prompt=accepted.prompt,
        width=accepted.width,
        height=accepted.height,
        frames=accepted.frames,
        created_at=now,
        ready_at=now + _generation_seconds(config, accepted.prompt, body.get("seed")),
        outcome=_outcome(config, accepted.prompt),
        render_key=key,
        render_claimed_at=None,
        body=json.dumps(summary, ensure_ascii=False),
        rendered_at=None,
    )
    store.add_task(task)
    if task.outcome == "ok":
        _start_render(store, task)
    return task


def render_queue_full(config: SandboxSettings) -> bool:
    with _rendering_lock:
        return len(_rendering) >= config.render_queue


def _start_render(store: Store, task: Task) -> None:
    """Render the task's video in the background, once. With the queue full the render
    waits: the task stays `generating` and the next query starts it."""
    if store.is_rendered(task.render_key) or render_queue_full(conf.current()):
        return
    if not store.claim_render(task.id, stale_after=RENDER_STALE_SECONDS):
        return
    with _rendering_lock:
        if task.render_key in _rendering:
            return
        _rendering.add(task.render_key)
    _renderer.submit(_render_task, store, task)


def _render_task(store: Store, task: Task) -> None:
    try:
        images = sorted(store.inputs.glob(f"{task.render_key}-*.img"))
        render.render(
            store.videos / f"{task.render_key}.mp4",
            width=task.width,
            height=task.height,
            frames=task.frames,
            prompt=visible_prompt(task.prompt),
            images=[path.read_bytes() for path in images],
        )
        store.finish_render(task.render_key)
    except Exception:
        log.exception("sandbox render failed for task %s", task.id)
    finally:
        with _rendering_lock:
            _rendering.discard(task.render_key)


def _parse_json(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(400, 50213, "request body too large")
    try:
        return json.loads(body)
    except ValueError:
        raise Refusal(400, 50204, "the body is not valid JSON") from None


def _submit(
    request: HttpRequest, body: bytes, config: SandboxSettings, store: Store, started: float
) -> JsonResponse:
    try:
        payload = _parse_json(body)
        accepted = check_volcengine(
            payload, text_risk_marker=config.text_risk_marker, fetch=_own_samples(request)
        )
        busy = config.concurrency and store.unfinished(config.access_key) >= config.concurrency
        if busy or render_queue_full(config):
            raise Refusal(429, 50430, "Request Has Reached API Concurrent Limit")
    except Refusal as refusal:
        return _business(int(refusal.code), refusal.message, None, started, refusal.http_status)
    task_id = str(secrets.randbelow(9 * 10**18) + 10**18)
    _create_task(
        api="volcengine",
        access_key=config.access_key,
        accepted=accepted,
        body=payload,
        config=config,
        store=store,
        task_id=task_id,
    )
    response = _business(10000, "Success", {"task_id": task_id}, started)
    response.sandbox_task_id = task_id  # type: ignore[attr-defined]
    return response


def _status(task: Task | None, config: SandboxSettings, store: Store) -> str:
    now = time.time()
    if task is None or now - task.created_at > config.task_ttl_seconds:
        return "not_found"
    if now < task.created_at + 0.2 * (task.ready_at - task.created_at):
        return "in_queue"
    if now < task.ready_at:
        return "generating"
    if task.outcome == "expired":
        return "expired"
    if task.outcome == "ok" and task.rendered_at is None:
        _start_render(store, task)  # the process that took the job may have died
        return "generating"
    return "done"


def video_url(request: HttpRequest, task: Task, config: SandboxSettings) -> str:
    """The link is minted once, when the task finished, and lives url_ttl seconds."""
    expires = int((task.done_at or time.time()) + config.url_ttl_seconds)
    signature = _file_signature(task.render_key, expires, config)
    path = reverse("sandbox:file", args=[task.render_key])
    return request.build_absolute_uri(f"{path}?expires={expires}&signature={signature}")


def _file_signature(key: str, expires: int, config: SandboxSettings) -> str:
    secret = hashlib.sha256(f"sandbox-files:{config.secret_key}".encode()).digest()
    return hmac.new(secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()


def _result(
    request: HttpRequest, body: bytes, config: SandboxSettings, store: Store, started: float
) -> JsonResponse:
    try:
        payload = _parse_json(body)
        if not isinstance(payload, dict):
            raise Refusal(400, 50204, "the body must be a JSON object")
        for field in ("req_key", "task_id"):
            if not payload.get(field):
                raise Refusal(400, 50201, f"missing required field: {field}")
        tagged = _aigc_tagged(payload.get("req_json"))
    except Refusal as refusal:
        return _business(int(refusal.code), refusal.message, None, started, refusal.http_status)
    task = store.get_task(str(payload["task_id"]))
    if task is not None and task.req_key != payload["req_key"]:
        task = None
    status = _status(task, config, store)
    data: dict[str, Any] = {"status": status, "video_url": ""}
    if task is not None and status == "done":
        if task.outcome == "risk":
            data["aigc_meta_tagged"] = tagged
            return _business(50516, "Post Video Risk Not Pass", data, started, 400)
        data["video_url"] = video_url(request, task, config)
        data["aigc_meta_tagged"] = tagged
    return _business(10000, "Success", data, started)


def _aigc_tagged(req_json: Any) -> bool:
    if req_json in (None, ""):
        return False
    if not isinstance(req_json, str):
        raise Refusal(400, 50200, "req_json must be a JSON string")
    try:
        parsed = json.loads(req_json)
    except ValueError:
        raise Refusal(400, 50204, "req_json is not valid JSON") from None
    return isinstance(parsed, dict) and isinstance(parsed.get("aigc_meta"), dict)


# --- the gateway ----------------------------------------------------------------------

GATEWAY_WORDS = ("processing", "running", "in_progress")


def _openai_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": code, "code": code}}, status=status)


def _bearer_ok(request: HttpRequest, config: SandboxSettings) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), config.gateway_key)


@csrf_exempt
def gateway_collection(request: HttpRequest) -> HttpResponseBase:
    started = time.perf_counter()
    config = conf.current()
    if request.method != "POST":
        return _openai_error(405, "method_not_allowed", "use POST to create a generation")
    if not _bearer_ok(request, config):
        return _openai_error(401, "invalid_api_key", "Incorrect API key provided")
    store = _store(config)
    prompt, subject = _about(store, "submit", request.body)
    call_id = store.admit(
        api="gateway", action="submit", access_key="gateway", qps=config.qps, subject=subject
    )
    if call_id is None:
        return _openai_error(429, "rate_limit_exceeded", "Too many requests")
    fault = _fault(config, store, "submit", prompt=prompt, subject=subject, call_id=call_id)
    return _with_fault(
        fault,
        store,
        call_id,
        config,
        lambda: _gateway_submit(request, config, store),
        started,
        gateway=True,
    )


def _gateway_submit(request: HttpRequest, config: SandboxSettings, store: Store) -> JsonResponse:
    try:
        payload = _parse_json(request.body)
        if render_queue_full(config):
            raise Refusal(429, "rate_limit_exceeded", "Too many generations in progress")
        accepted = check_gateway(
            payload, text_risk_marker=config.text_risk_marker, fetch=_own_samples(request)
        )
    except Refusal as refusal:
        return _openai_error(refusal.http_status, str(refusal.code), refusal.message)
    task_id = f"cgt-{secrets.token_hex(12)}"
    task = _create_task(
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
    started = time.perf_counter()
    config = conf.current()
    if not _bearer_ok(request, config):
        return _openai_error(401, "invalid_api_key", "Incorrect API key provided")
    store = _store(config)
    prompt, subject = _about(store, "query", b"", task_id)
    call_id = store.admit(
        api="gateway", action="query", access_key="gateway", qps=config.qps, subject=subject
    )
    if call_id is None:
        return _openai_error(429, "rate_limit_exceeded", "Too many requests")
    fault = _fault(config, store, "query", prompt=prompt, subject=subject, call_id=call_id)

    def answer() -> JsonResponse:
        task = store.get_task(task_id)
        status = _status(task, config, store)
        if task is None or status in ("not_found", "expired"):
            return _openai_error(404, "task_not_found", f"no generation {task_id}")
        if status == "done":
            if task.outcome == "risk":
                return JsonResponse(_gateway_view(task, "failed", None))
            return JsonResponse(_gateway_view(task, "succeeded", video_url(request, task, config)))
        word = "queued" if status == "in_queue" else GATEWAY_WORDS[int(task.id[-2:], 16) % 3]
        return JsonResponse(_gateway_view(task, word, None))

    return _with_fault(fault, store, call_id, config, answer, started, gateway=True)


# --- files ---------------------------------------------------------------------------


def sample_image(request: HttpRequest, name: str) -> HttpResponse:
    if name not in samples.SAMPLES:
        return _storage_error(404, "NoSuchKey", "The specified key does not exist")
    content_type = samples.CONTENT_TYPES[samples.SAMPLES[name][2]]
    return HttpResponse(samples.sample(name), content_type=content_type)


def video_file(request: HttpRequest, key: str) -> HttpResponseBase:
    config = conf.current()
    try:
        expires = int(request.GET.get("expires", ""))
    except ValueError:
        return _storage_error(403, "AccessDenied", "Missing or invalid expiry")
    signature = request.GET.get("signature", "")
    if not hmac.compare_digest(signature, _file_signature(key, expires, config)):
        return _storage_error(403, "SignatureDoesNotMatch", "The link signature is not valid")
    if time.time() > expires:
        return _storage_error(403, "AccessDenied", "Request has expired")
    path = _store(config).videos / f"{key}.mp4"
    if not path.exists():
        return _storage_error(404, "NoSuchKey", "The specified key does not exist")
    return FileResponse(path.open("rb"), content_type="video/mp4")


def _storage_error(status: int, code: str, message: str) -> HttpResponse:
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return HttpResponse(body, status=status, content_type="application/xml")
