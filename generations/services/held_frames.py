"""Frames kept for the next try: when the generate form comes back with an error (a
refusal, a typo in another field), the frames that were uploaded with it are kept in
storage under a token, so nobody has to pick the files again. The token is only good
for the member who uploaded them, in that team; the sweeper removes what is a day old.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from generations.services.frames import Frame

ROOT = "held"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16}$")
KEEP_FOR = timedelta(days=1)


@dataclass(frozen=True)
class HeldFrame:
    position: int
    name: str  # in storage
    original_name: str


def _folder(team_id: int, user_id: int, token: str) -> str:
    return f"{ROOT}/{team_id}/{user_id}/{token}"


def hold(team_id: int, user_id: int, frames: list[Frame], token: str = "") -> str:
    """Keep these frames' originals under `token` (a new one unless a valid one is given,
    whose other frames are kept); return the token."""
    if not TOKEN.match(token or ""):
        token = secrets.token_urlsafe(12)
    folder = _folder(team_id, user_id, token)
    kept = {frame.position: frame for frame in held(team_id, user_id, token)}
    for frame in frames:
        if frame.position in kept:
            default_storage.delete(kept[frame.position].name)
        with frame.open_original() as original:
            name = default_storage.save(
                f"{folder}/{frame.position}.{frame.original_extension}",
                ContentFile(original.read()),
            )
        kept[frame.position] = HeldFrame(frame.position, name, frame.original_name[:200])
    manifest = {str(p): {"name": f.name, "original_name": f.original_name} for p, f in kept.items()}
    manifest_name = f"{folder}/manifest.json"
    if default_storage.exists(manifest_name):
        default_storage.delete(manifest_name)
    default_storage.save(manifest_name, ContentFile(json.dumps(manifest).encode()))
    return token


def held(team_id: int, user_id: int, token: str) -> list[HeldFrame]:
    """The frames kept under `token` for this member in this team; none for a token
    that is malformed, someone else's or gone."""
    if not TOKEN.match(token or ""):
        return []
    folder = _folder(team_id, user_id, token)
    try:
        with default_storage.open(f"{folder}/manifest.json", "rb") as handle:
            manifest = json.loads(handle.read())
    except (OSError, ValueError):
        return []
    found = []
    for position, entry in sorted(manifest.items()):
        name = str(entry.get("name", ""))
        if name.startswith(folder + "/") and default_storage.exists(name):
            found.append(HeldFrame(int(position), name, str(entry.get("original_name", ""))))
    return found


def release(team_id: int, user_id: int, token: str) -> None:
    """Forget the frames of `token` (they went into a job, which has its own copies)."""
    if not TOKEN.match(token or ""):
        return
    folder = _folder(team_id, user_id, token)
    try:
        _folders, files = default_storage.listdir(folder)
    except (OSError, FileNotFoundError):
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")


def purge(now: datetime | None = None) -> int:
    """Remove kept frames older than a day; the count of files removed."""
    cutoff = (now or timezone.now()) - KEEP_FOR
    removed = 0
    for team in _list(ROOT)[0]:
        for user in _list(f"{ROOT}/{team}")[0]:
            for token in _list(f"{ROOT}/{team}/{user}")[0]:
                folder = f"{ROOT}/{team}/{user}/{token}"
                files = _list(folder)[1]
                stamps = [default_storage.get_modified_time(f"{folder}/{f}") for f in files]
                if stamps and max(stamps) < cutoff:
                    for name in files:
                        default_storage.delete(f"{folder}/{name}")
                        removed += 1
    return removed


def _list(path: str) -> tuple[list[str], list[str]]:
    try:
        return default_storage.listdir(path)
    except (OSError, FileNotFoundError):
        return [], []
