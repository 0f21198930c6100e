"""Race helper: run one attempt per item in its own thread, all let go at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

Item = TypeVar("Item")


def at_once(attempt: Callable[[Item], str], items: list[Item]) -> list[str]:
    """Each attempt's outcome, in the order they finished. Threads wait at a barrier so
    they really run together, and close their own database connection."""
    start = threading.Barrier(len(items))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(item: Item) -> None:
        start.wait()
        try:
            result = attempt(item)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
