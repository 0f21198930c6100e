"""django-q2 task entry points. Each takes ids, is safe to run twice, and delegates to
the pipeline."""

from __future__ import annotations

from generations.services import notifications, pipeline, webhooks


def dispatch(slot: int) -> str:
    return pipeline.dispatch(slot)


def archive(generation_id: int) -> None:
    pipeline.archive(generation_id)


def sweep() -> dict[str, int]:
    return pipeline.sweep()


def deliver_webhook(delivery_id: int) -> str:
    return webhooks.deliver(delivery_id)


def email_notification(notification_id: int) -> str:
    return notifications.email(notification_id)
