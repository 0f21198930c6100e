"""The emulated Volcengine Ark video task API (docs/upstream/ark.md): create, get, list
and delete under /sandbox/ark/api/v3/contents/generations/tasks, with callbacks.

Tasks move queued → running → succeeded (or failed for `[risk:video]`, expired for
`[sandbox:expired]`) over the configured time; a succeeded task has its video, its last
frame (with `return_last_frame`) and its token usage. Callbacks are sent by a thread in
each web process, from a table in the emulator's store, so any process may deliver them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from generations.jimeng import transport
from generations.jimeng.addresses import AddressRefused, AddressRules, Place
from sandbox import conf, faults
from sandbox.ark_rules import AcceptedArk, ArkRefusal, DraftTask, check_ark
from sandbox.conf import SandboxSettings
from sandbox.store import Store, Task
from sandbox.tasks import (
    about,
    create_task,
    own_samples,
    render_queue_full,
    site_of,
    status_of,
    store_for,
    video_url,
)
from sandbox.validate import Accepted

log = logging.getLogger("sandbox")

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_QUEUED = 120
RETENTION_SECONDS = 7 * 24 * 3600
CALLBACK_TIMEOUT = 5.0
CALLBACK_TRIES = 3
TERMINAL = ("succeeded", "failed", "expired")
API = "ark"


def _error(refusal: ArkRefusal) -> JsonResponse:
    request_id = secrets.token_hex(10)
    error = {
        "code": refusal.code,
        "message": f"{refusal.message} Request ID: {request_id}",
        "param": refusal.param,
        "type": refusal.error_type,
    }
    return JsonResponse({"error": error}, status=refusal.http_status)


def _busy(code: int) -> JsonResponse:
    if code in (50429, 50430):
        return _error(
            ArkRefusal(429, "RateLimitExceeded.EndpointRPMExceeded", "Too many requests.")
        )
    return _error(ArkRefusal(500, "InternalServiceError", "The service encountered an error."))


def _key_of(request: HttpRequest, config: SandboxSettings) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and hmac.compare_digest(token, config.ark_key):
        return token
    return None


def _unauthorized() -> JsonResponse:
    return _error(ArkRefusal(401, "AuthenticationError", "The API key is missing or invalid."))


# --- the task as Ark shows it -----------------------------------------------------------


def ark_status(task: Task, config: SandboxSettings, store: Store) -> str:
    if task.cancelled_at is not None:
        return "cancelled"
    status = status_of(task, config, store)
    if status == "done":
        return "failed" if task.outcome == "risk" else "succeeded"
    return {"in_queue": "queued", "generating": "running"}.get(status, status)


def _seed(task: Task) -> int:
    chosen = task.options.get("seed")
    if isinstance(chosen, int) and chosen >= 0:
        return chosen
    return int.from_bytes(hashlib.sha256(task.id.encode()).digest()[:4]) % 2**31


def task_view(task: Task, config: SandboxSettings, store: Store, *, listing: bool = False) -> dict:
    options, status = task.options, ark_status(task, config, store)
    view: dict[str, Any] = {
        "id": task.id,
        "model": task.req_key,
        "status": status,
        "created_at": int(task.created_at),
        "updated_at": int(max(task.created_at, min(time.time(), task.ready_at))),
        "service_tier": options.get("service_tier", "default"),
        "execution_expires_after": options.get("execution_expires_after", 172800),
    }
    for echoed in ("safety_identifier", "draft_task_id"):
        if options.get(echoed):
            view[echoed] = options[echoed]
    if status not in ("queued", "cancelled"):
        view |= {
            "seed": _seed(task),
            "framespersecond": 24,
            "generate_audio": bool(options.get("generate_audio")),
            "draft": bool(options.get("draft")),
        }
        if not listing:  # list items lack these (docs/upstream/ark.md)
            view |= {
                "resolution": options.get("resolution"),
                "ratio": options.get("ratio"),
                "duration": options.get("duration"),
            }
    if status == "succeeded":
        site = options["site"]
        content = {"video_url": video_url(site, task, config)}
        if options.get("return_last_frame") and not listing:
            content["last_frame_url"] = video_url(site, task, config, last_frame=True)
        view["content"] = content
        tokens = task.width * task.height * task.frames // 1024
        view["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
    elif status == "failed":
        error = {
            "code": "OutputVideoSensitiveContentDetected",
            "message": "The generated video may contain sensitive information.",
        }
        view["failure_reason" if listing else "error"] = error
    return view


def _find(store: Store, key: str, task_id: str) -> Task | None:
    task = store.get_task(task_id)
    if task is None or task.api != API or task.access_key != key or task.deleted_at is not None:
        return None
    return task


# --- views ------------------------------------------------------------------------------


@csrf_exempt
def tasks(request: HttpRequest) -> HttpResponseBase:
    config = conf.current()
    key = _key_of(request, config)
    if key is None:
        return _unauthorized()
    if request.method == "POST":
        return _create(request, config, key)
    if request.method == "GET":
        return _list(request, config, key)
    return _error(ArkRefusal(405, "MethodNotAllowed", "Use POST or GET."))


@csrf_exempt
def task(request: HttpRequest, task_id: str) -> HttpResponseBase:
    config = conf.current()
    key = _key_of(request, config)
    if key is None:
        return _unauthorized()
    store = store_for(config)
    if request.method == "DELETE":
        return _delete(store, config, key, task_id)
    if request.method != "GET":
        return _error(ArkRefusal(405, "MethodNotAllowed", "Use GET or DELETE."))
    prompt, subject = about(store, "query", b"", task_id)
    call_id = store.admit(api=API, action="query", access_key=key, qps=config.qps, subject=subject)
    if call_id is None:
        return _busy(50429)
    fault = faults.choose(config, store, "query", prompt=prompt, subject=subject, call_id=call_id)

    def answer() -> JsonResponse:
        found = _find(store, key, task_id)
        if found is None:
            refusal = ArkRefusal(404, "NotFound", f"The task {task_id} was not found.", "id")
            return _error(refusal)
        return JsonResponse(task_view(found, config, store))

    return faults.answer(fault, store, call_id, config, answer, _busy)


def _create(request: HttpRequest, config: SandboxSettings, key: str) -> HttpResponseBase:
    store, body = store_for(config), request.body
    prompt, subject = about(store, "submit", body)
    call_id = store.admit(api=API, action="submit", access_key=key, qps=config.qps, subject=subject)
    if call_id is None:
        return _error(ArkRefusal(429, "RequestBurstTooFast", "Too many requests at once."))
    fault = faults.choose(config, store, "submit", prompt=prompt, subject=subject, call_id=call_id)
    return faults.answer(
        fault, store, call_id, config, lambda: _accept(request, config, store, key), _busy
    )


def _accept(request: HttpRequest, config: SandboxSettings, store: Store, key: str) -> JsonResponse:
    try:
        if len(request.body) > MAX_BODY_BYTES:
            raise ArkRefusal(400, "InvalidParameter", "the body is larger than 64 MB")
        try:
            payload = json.loads(request.body)
        except ValueError:
            raise ArkRefusal(400, "InvalidParameter", "the body is not valid JSON") from None
        if _queued(store, config, key) >= MAX_QUEUED:
            raise ArkRefusal(429, "QuotaExceeded", "Too many queued tasks.")
        if render_queue_full(config):
            raise ArkRefusal(429, "ServerOverloaded", "The service is busy.")
        accepted = check_ark(
            payload,
            fetch=own_samples(request),
            own_host=request.get_host(),
            drafts=lambda task_id: _draft(store, config, key, task_id),
            text_risk=config.text_risk_marker,
        )
    except ArkRefusal as refusal:
        return _error(refusal)
    task_id = f"cgt-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(6)}"
    task = create_task(
        api=API,
        access_key=key,
        accepted=Accepted(
            accepted.model,
            accepted.prompt,
            accepted.width,
            accepted.height,
            accepted.frames,
            accepted.images,
        ),
        body={k: v for k, v in payload.items() if k != "content"},
        config=config,
        store=store,
        task_id=task_id,
        options={**accepted.options, "site": site_of(request)},
    )
    _schedule_callbacks(store, task, accepted)
    response = JsonResponse({"id": task_id})
    response.sandbox_task_id = task_id  # type: ignore[attr-defined]
    return response


def _queued(store: Store, config: SandboxSettings, key: str) -> int:
    since = time.time() - RETENTION_SECONDS
    recent = store.recent_tasks(api=API, access_key=key, since=since)
    return sum(1 for task in recent if ark_status(task, config, store) == "queued")


def _draft(store: Store, config: SandboxSettings, key: str, task_id: str) -> DraftTask | None:
    found = _find(store, key, task_id)
    if found is None:
        return None
    inputs = sorted(store.inputs.glob(f"{found.render_key}-*.img"))
    return DraftTask(
        model=found.req_key,
        status=ark_status(found, config, store),
        is_draft=bool(found.options.get("draft")),
        prompt=found.prompt,
        options=found.options,
        images=[path.read_bytes() for path in inputs],
    )


def _list(request: HttpRequest, config: SandboxSettings, key: str) -> JsonResponse:
    store = store_for(config)
    try:
        page = int(request.GET.get("page_num") or 1)
        size = int(request.GET.get("page_size") or 10)
    except ValueError:
        return _error(ArkRefusal(400, "InvalidParameter", "page_num and page_size are integers"))
    if not (1 <= page <= 500 and 1 <= size <= 500):
        return _error(ArkRefusal(400, "InvalidParameter", "page_num and page_size are 1–500"))
    wanted_ids = set(request.GET.getlist("filter.task_ids"))
    status, model = request.GET.get("filter.status"), request.GET.get("filter.model")
    tier = request.GET.get("filter.service_tier") or "default"
    items = []
    for found in store.recent_tasks(api=API, access_key=key, since=time.time() - RETENTION_SECONDS):
        view = task_view(found, config, store, listing=True)
        if (wanted_ids and found.id not in wanted_ids) or (model and found.req_key != model):
            continue
        if (status and view["status"] != status) or view["service_tier"] != tier:
            continue
        items.append(view)
    chosen = items[(page - 1) * size : page * size]
    return JsonResponse({"items": chosen, "total": len(items)})


def _delete(store: Store, config: SandboxSettings, key: str, task_id: str) -> JsonResponse:
    found = _find(store, key, task_id)
    if found is None:
        return _error(ArkRefusal(404, "NotFound", f"The task {task_id} was not found.", "id"))
    status = ark_status(found, config, store)
    if status == "queued":
        store.set_task_time(found.id, "cancelled_at", time.time())
    elif status in TERMINAL:
        store.set_task_time(found.id, "deleted_at", time.time())
    else:
        message = f"A {status} task cannot be deleted."
        return _error(ArkRefusal(403, "OperationDenied.TaskStatus", message, "id"))
    return JsonResponse({})


# --- callbacks -----------------------------------------------------------------------------


def _schedule_callbacks(store: Store, task: Task, accepted: AcceptedArk) -> None:
    if not accepted.options.get("callback_url"):
        return
    running = task.created_at + 0.2 * (task.ready_at - task.created_at)
    store.add_callback(task.id, "queued", task.created_at)
    store.add_callback(task.id, "running", running)
    store.add_callback(task.id, "final", task.ready_at)
    _Deliverer.ensure_running()


class _Deliverer:
    """One thread per process sends the callbacks that are due."""

    _lock = threading.Lock()
    _thread: threading.Thread | None = None

    @classmethod
    def ensure_running(cls) -> None:
        with cls._lock:
            if cls._thread is None or not cls._thread.is_alive():
                cls._thread = threading.Thread(
                    target=cls._run, name="sandbox-ark-callbacks", daemon=True
                )
                cls._thread.start()

    @classmethod
    def _run(cls) -> None:
        while True:
            try:
                config = conf.current()
                if not config.directory.exists():
                    return  # the emulator's state is gone (a test run ended)
                deliver_due(store_for(config), config)
            except Exception:
                log.exception("sandbox callback delivery failed")
            time.sleep(0.1)


def deliver_due(store: Store, config: SandboxSettings) -> int:
    """Send the callbacks that are due; return how many were delivered."""
    delivered = 0
    now = time.time()
    for row in store.claim_callbacks(now=now, stale_after=CALLBACK_TIMEOUT * 3):
        found = store.get_task(row["task_id"])
        if found is None or found.deleted_at is not None:
            store.finish_callback(row["id"], delivered=False, retry_at=None)
            continue
        status = ark_status(found, config, store)
        final = row["status"] == "final"
        if final and status not in (*TERMINAL, "cancelled"):
            store.postpone_callback(row["id"], now + 0.2)  # the render is still running
            continue
        if status == "cancelled" or (not final and status in TERMINAL):
            store.finish_callback(row["id"], delivered=False, retry_at=None)
            continue
        ok = _post(found.options, task_view(found, config, store))
        tries_left = final and row["attempts"] + 1 < CALLBACK_TRIES
        store.finish_callback(
            row["id"], delivered=ok, retry_at=None if ok or not tries_left else now + 5
        )
        delivered += ok
    return delivered


def _post(options: dict[str, Any], view: dict[str, Any]) -> bool:
    url, site = options.get("callback_url"), options.get("site")
    if not url or not site:
        return False
    rules = AddressRules(api_hosts=frozenset(), trusted=(Place.origin(f"{site}/"),))
    request = transport.HttpRequest(
        "POST",
        url,
        {"Content-Type": "application/json"},
        json.dumps(view).encode(),
        connect_timeout=2.0,
        read_timeout=CALLBACK_TIMEOUT,
        rules=rules,
    )
    try:
        return 200 <= transport.send(request).status < 300
    except (transport.TransportFailure, AddressRefused):
        return False
