"""Readiness: can this process reach its database, its task broker and its storage?"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db import connection
from django_q.brokers import get_broker


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _run(name: str, probe: Callable[[], None]) -> Check:
    try:
        probe()
    except Exception as error:
        return Check(name, False, type(error).__name__)
    return Check(name, True, "ok")


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    if not get_broker().ping():
        raise ConnectionError("broker did not answer")


def _storage() -> None:
    default_storage.exists("healthcheck-probe")


def readiness() -> list[Check]:
    return [_run("database", _database), _run("broker", _broker), _run("storage", _storage)]
