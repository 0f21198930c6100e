"""The life of an emulated task, shared by both APIs: creating it from an accepted
body, its status over time, rendering its video in the background, and its link.

See docs/emulator.md.
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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from sandbox import conf, render, samples
from sandbox.conf import SandboxSettings
from sandbox.store import Store, Task
from sandbox.validate import Accepted, ImageFetcher, Refusal, invalid

log = logging.getLogger("sandbox")

MAX_BODY_BYTES = 32 * 1024 * 1024
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


def own_samples(request: HttpRequest) -> ImageFetcher:
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


def store_for(config: SandboxSettings) -> Store:
    return Store(config.directory)


def request_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(9).upper()


def elapsed(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.6f}ms"


MARKERS = re.compile(r"\s*\[sandbox:[^\]]*\]")


def visible_prompt(prompt: str) -> str:
    """The prompt as drawn in the video: `[sandbox:…]` markers are directives to the
    emulator, not content (and jobs differing only in them share one render)."""
    return MARKERS.sub("", prompt).strip()


def _prompt_of(body: bytes) -> str:
    """The prompt of a submit body: `prompt`, or Ark's text content item."""
    try:
        payload = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(payload, dict):
        return ""
    texts = [
        item.get("text")
        for item in payload.get("content") or []
        if isinstance(item, dict) and item.get("type") == "text"
    ]
    prompt = payload.get("prompt") or (texts[0] if texts else "")
    return prompt if isinstance(prompt, str) else ""


def about(store: Store, kind: str, body: bytes, task_id: str | None = None) -> tuple[str, str]:
    """The prompt a call concerns and the subject it is logged under."""
    if kind == "submit":
        return _prompt_of(body), "submit:" + hashlib.sha256(body).hexdigest()[:24]
    if task_id is None:
        try:
            task_id = str(json.loads(body).get("task_id") or "")
        except (ValueError, AttributeError):
            task_id = ""
    task = store.get_task(task_id) if task_id else None
    return (task.prompt if task else ""), f"query:{task_id}"


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


def create_task(
    *,
    api: str,
    access_key: str,
    accepted: Accepted,
    body: dict[str, Any],
    config: SandboxSettings,
    store: Store,
    task_id: str,
    options: dict[str, Any] | None = None,
) -> Task:
    """Record the task and start its render. `options` (Ark) are kept with it; their
    `generate_audio` puts sound in the video."""
    options = options or {}
    key = render.render_key(
        width=accepted.width,
        height=accepted.height,
        frames=accepted.frames,
        prompt=visible_prompt(accepted.prompt),
        images=accepted.images,
        audio=bool(options.get("generate_audio")),
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
        if key != "content"
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
        extra=json.dumps(options, ensure_ascii=False),
    )
    store.add_task(task)
    if task.outcome == "ok":
        start_render(store, task)
    return task


def render_queue_full(config: SandboxSettings) -> bool:
    with _rendering_lock:
        return len(_rendering) >= config.render_queue


def start_render(store: Store, task: Task) -> None:
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
            audio=bool(task.options.get("generate_audio")),
            last_frame=store.videos / f"{task.render_key}-last.png",
        )
        store.finish_render(task.render_key)
    except Exception:
        log.exception("sandbox render failed for task %s", task.id)
    finally:
        with _rendering_lock:
            _rendering.discard(task.render_key)


def parse_json(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(400, 50213, "request body too large")
    try:
        return json.loads(body)
    except ValueError:
        raise Refusal(400, 50204, "the body is not valid JSON") from None


def status_of(task: Task | None, config: SandboxSettings, store: Store) -> str:
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
        start_render(store, task)  # the process that took the job may have died
        return "generating"
    return "done"


def site_of(request: HttpRequest) -> str:
    """scheme://host of the emulator as this request reached it."""
    return request.build_absolute_uri("/").rstrip("/")


def video_url(site: str, task: Task, config: SandboxSettings, *, last_frame: bool = False) -> str:
    """The link (of the video, or of its last frame) is minted once, when the task
    finished, and lives url_ttl seconds."""
    expires = int((task.done_at or time.time()) + config.url_ttl_seconds)
    name = f"{task.render_key}-last" if last_frame else task.render_key
    signature = file_signature(name, expires, config)
    path = reverse("sandbox:frame" if last_frame else "sandbox:file", args=[task.render_key])
    return f"{site}{path}?expires={expires}&signature={signature}"


def file_signature(key: str, expires: int, config: SandboxSettings) -> str:
    secret = hashlib.sha256(f"sandbox-files:{config.secret_key}".encode()).digest()
    return hmac.new(secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()
