"""The emulator's settings, read afresh on each request so tests can change them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class SandboxSettings:
    directory: Path
    access_key: str
    secret_key: str
    gateway_key: str
    ark_key: str
    generation_seconds: float
    generation_seconds_max: float
    url_ttl_seconds: float
    task_ttl_seconds: float
    qps: float
    concurrency: int
    fault_50429: float
    fault_50500: float
    fault_slow: float
    fault_drop: float
    fault_actions: tuple[str, ...]
    slow_seconds: float
    max_slow_answers: int
    render_queue: int
    text_risk_marker: str
    video_risk_marker: str
    expired_marker: str


def current() -> SandboxSettings:
    base = float(settings.SANDBOX_GENERATION_SECONDS)
    return SandboxSettings(
        directory=Path(settings.SANDBOX_DIR),
        access_key=settings.SANDBOX_ACCESS_KEY,
        secret_key=settings.SANDBOX_SECRET_KEY,
        gateway_key=settings.SANDBOX_GATEWAY_KEY,
        ark_key=settings.SANDBOX_ARK_KEY,
        generation_seconds=base,
        generation_seconds_max=max(base, float(settings.SANDBOX_GENERATION_SECONDS_MAX or base)),
        url_ttl_seconds=float(settings.SANDBOX_URL_TTL_SECONDS),
        task_ttl_seconds=float(settings.SANDBOX_TASK_TTL_SECONDS),
        qps=float(settings.SANDBOX_QPS),
        concurrency=int(settings.SANDBOX_CONCURRENCY),
        fault_50429=float(settings.SANDBOX_FAULT_50429),
        fault_50500=float(settings.SANDBOX_FAULT_50500),
        fault_slow=float(settings.SANDBOX_FAULT_SLOW),
        fault_drop=float(settings.SANDBOX_FAULT_DROP),
        fault_actions=tuple(settings.SANDBOX_FAULT_ACTIONS),
        slow_seconds=float(settings.SANDBOX_SLOW_SECONDS),
        max_slow_answers=int(settings.SANDBOX_MAX_SLOW_ANSWERS),
        render_queue=int(settings.SANDBOX_RENDER_QUEUE),
        text_risk_marker=settings.SANDBOX_TEXT_RISK_MARKER,
        video_risk_marker=settings.SANDBOX_VIDEO_RISK_MARKER,
        expired_marker=settings.SANDBOX_EXPIRED_MARKER,
    )
