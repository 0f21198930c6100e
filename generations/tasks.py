"""django-q2's entry points under the names they had before the pipeline became a package:
the sweeper's schedule row (made by migration 0002) names `generations.tasks.sweep`, and
tasks queued before an upgrade name the others. New tasks are queued by their function,
through `services.queue.after_commit`; every task takes ids and is safe to run twice."""

from __future__ import annotations

from generations.services.notifications import email as email_notification
from generations.services.pipeline.archiving import archive
from generations.services.pipeline.dispatching import dispatch
from generations.services.pipeline.workers import sweep
from generations.services.webhooks import deliver as deliver_webhook

__all__ = ["archive", "deliver_webhook", "dispatch", "email_notification", "sweep"]
