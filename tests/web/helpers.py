"""What the pages' tests share: uploads as a browser sends them, ready jobs."""

from __future__ import annotations

import io

from generations.models import Generation
from tests.pipeline import make_job, mark_ready


def upload(data: bytes, name: str = "frame.jpg") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def ready_job(team, mode: str = "t2v_720p", **fields) -> Generation:
    return mark_ready(make_job(team, mode, **fields))
