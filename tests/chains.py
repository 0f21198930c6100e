"""Chains of ready jobs with real MP4 files, as Extend makes them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from generations.models import Generation
from sandbox.render import render
from tests.pipeline import make_job, mark_ready


def video_bytes(**shape: Any) -> bytes:
    """A real MP4 from the emulator's renderer: 320×180, 24 frames, with sound unless
    `shape` says otherwise (width, height, frames, sound, prompt)."""
    shape = {"width": 320, "height": 180, "frames": 24, "sound": True, "prompt": "p", **shape}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "video.mp4"
        render(path, width=shape["width"], height=shape["height"], frames=shape["frames"],
               prompt=shape["prompt"], images=[], audio=shape["sound"])  # fmt: skip
        return path.read_bytes()


def make_chain(team: Any, *shapes: dict[str, Any]) -> list[Generation]:
    """Ready jobs, each extending the one before; `shapes` give each part's video."""
    parts: list[Generation] = []
    for number, shape in enumerate(shapes):
        job = make_job(team, prompt=f"part {number + 1}")
        extends = {"extends": parts[-1]} if parts else {}
        parts.append(
            mark_ready(job, video=video_bytes(**{"prompt": f"{number}", **shape}), **extends)
        )
    return parts
