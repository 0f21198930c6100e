"""Work that waits for the transaction in progress: the one way a task is queued.

A task reads rows by id; queued before the commit, a worker could take it and find
nothing yet, or find a row that a rollback then takes back. So every task goes through
`after_commit`, named by its function (django-q2 records where it lives), never by a
string; outside a transaction the commit has happened and it is queued at once.
`once_committed` does the same for work done in this process (waking the dispatchers,
removing files). Both are robust: a broker or storage that fails then is logged, and
recovery picks the job up — the rows are safe either way (docs/pipeline.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django_q.tasks import async_task


def after_commit(task: Callable[..., Any], *args: Any, name: str) -> None:
    """Queue `task(*args)` for a worker once the transaction in progress commits."""
    transaction.on_commit(lambda: async_task(task, *args, task_name=name), robust=True)


def once_committed(work: Callable[[], Any]) -> None:
    """Run `work()` here once the transaction in progress commits."""
    transaction.on_commit(work, robust=True)
