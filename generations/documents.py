"""How a job and a share link look to machines: the API's answers and the webhooks'
bodies are the same documents (docs/api.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from generations.models import Generation, ShareLink, Status


def _absolute(path: str, base: str | None) -> str:
    base = settings.PUBLIC_BASE_URL if base is None else base
    return f"{base.rstrip('/')}{path}" if base else path


def job_document(job: Generation, *, base: str | None = None) -> dict[str, Any]:
    """Everything a script may want about a job; links are absolute when the studio's
    address is known (`base`, else PUBLIC_BASE_URL)."""
    slug = job.team.slug
    ready = job.status == Status.READY
    links = {
        "self": _absolute(reverse("api-1:generation", args=[job.pk]), base),
        "page": _absolute(reverse("job-detail", args=[slug, job.pk]), base),
    }
    if ready:
        links["download"] = _absolute(reverse("api-1:download", args=[job.pk]), base)
    return {
        "id": job.pk,
        "team": slug,
        "status": job.status,
        "mode": job.mode,
        "mode_label": job.mode_label,
        "model": job.req_key,
        "prompt": job.prompt,
        "seconds": job.seconds,
        "auto_length": job.auto_length,
        "aspect_ratio": job.aspect_ratio or None,
        "resolution": job.resolution or None,
        "seed": job.seed,
        "seed_used": job.seed_used,
        "generate_audio": job.generate_audio,
        "draft": job.draft,
        # What was charged once the job ended (0 when it failed or was cancelled); while
        # it runs, what is held for it. The estimate stays in estimated_cny.
        "cost_cny": str(job.held_or_charged_cny),
        "charged_cny": None if job.charged_cny is None else str(job.charged_cny),
        "estimated_cny": str(job.estimate_cny),
        "tokens_estimated": job.tokens_estimated,
        "tokens_used": job.tokens_used,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "failure": {"code": job.failure_code, "reason": job.failure_reason}
        if job.status == Status.FAILED
        else None,
        "video": _video(job) if ready else None,
        "extends": job.extends_id,
        "from_draft": job.from_draft_id,
        # The jobs of one submit share a batch (variants); list them with ?batch=.
        "batch": job.batch or None,
        "can_cancel": job.can_cancel,
        "can_extend": job.can_extend,
        "can_make_final": job.can_make_final,
        "links": links,
    }


def _video(job: Generation) -> dict[str, Any]:
    return {
        "width": job.video_width,
        "height": job.video_height,
        "duration": job.video_duration,
        "fps": job.video_fps,
        "frames": job.video_frames,
        "bytes": job.video_bytes,
        "has_sound": job.has_sound,
    }


def share_document(link: ShareLink, *, base: str | None = None) -> dict[str, Any]:
    return {
        "id": link.pk,
        "title": link.title,
        "url": _absolute(reverse("public-share", args=[link.key]), base),
        "generations": list(
            link.items.order_by("position").values_list("generation_id", flat=True)
        ),
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        "views": link.view_count,
        "live": link.is_live,
    }
