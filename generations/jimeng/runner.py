"""Run one generation from start to finish, for the command line.

Submit once, poll until the task is final (transient errors back off and polling goes
on), download the video at once (its link lives an hour) and probe what arrived.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generations.jimeng import transport
from generations.jimeng.addresses import STRICT, AddressRules
from generations.jimeng.client import SubmitResult, TaskResult, TaskStatus, UpstreamClient
from generations.jimeng.errors import ErrorKind, JimengError
from generations.jimeng.probe import VideoInfo, probe

MAX_BACKOFF_SECONDS = 60.0


class PollTimeout(Exception):
    def __init__(self, task_id: str, attempts: int) -> None:
        super().__init__(f"task {task_id} was not finished after {attempts} polls")
        self.task_id = task_id
        self.attempts = attempts


@dataclass(frozen=True)
class RunResult:
    submitted: SubmitResult
    result: TaskResult
    video: VideoInfo | None
    saved_to: Path | None
    polls: int


def wait_for_task(
    client: UpstreamClient,
    *,
    task_id: str,
    req_key: str,
    req_json: str | None,
    interval: float,
    max_attempts: int,
    sleep: Callable[[float], None] = time.sleep,
    on_result: Callable[[TaskResult], None] | None = None,
) -> tuple[TaskResult, int]:
    """Poll until the task is final. Transient errors double the wait, with jitter."""
    backoff = interval
    for attempt in range(1, max_attempts + 1):
        try:
            result = client.get_result(task_id=task_id, req_key=req_key, req_json=req_json)
        except JimengError as error:
            if not error.transient:
                raise
            backoff = min(MAX_BACKOFF_SECONDS, max(backoff, interval) * 2)
            sleep(backoff * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not security
            continue
        backoff = interval
        if on_result:
            on_result(result)
        if result.status.is_final:
            return result, attempt
        sleep(interval)
    raise PollTimeout(task_id, max_attempts)


def download_video(
    url: str,
    destination: Path,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    rules: AddressRules = STRICT,
) -> int:
    """Download with bounded retries for network trouble; refusals are final at once."""
    for attempt in range(1, attempts + 1):
        try:
            with destination.open("wb") as handle:
                return transport.download(
                    url,
                    handle,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    max_bytes=max_bytes,
                    rules=rules,
                )
        except transport.DownloadRefused as refusal:
            raise download_error(refusal) from None
        except transport.TransportFailure as failure:
            if failure.refused:
                raise JimengError(
                    "the video link points to an address the studio may not fetch",
                    ErrorKind.DOWNLOAD,
                    code="address_refused",
                ) from None
            if attempt == attempts:
                raise JimengError(
                    f"the video could not be downloaded: {failure.message}",
                    ErrorKind.DOWNLOAD,
                    transient=True,
                ) from None
            sleep(2.0 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def download_error(refusal: transport.DownloadRefused) -> JimengError:
    body = refusal.body.decode("utf-8", "replace")
    expired = refusal.status == 403 and ("expired" in body.lower() or "AccessDenied" in body)
    message = (
        "the video link expired before the video could be downloaded (links live one hour)"
        if expired
        else f"the video server refused the download (HTTP {refusal.status})"
    )
    return JimengError(
        message,
        ErrorKind.DOWNLOAD,
        http_status=refusal.status,
        code="link_expired" if expired else "download_refused",
    )


def run(
    client: UpstreamClient,
    body: Mapping[str, Any],
    *,
    req_key: str,
    req_json: str | None,
    interval: float,
    max_attempts: int,
    output: Path | None,
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int = 1024 * 1024 * 1024,
    on_result: Callable[[TaskResult], None] | None = None,
    rules: AddressRules = STRICT,
) -> RunResult:
    submitted = client.submit(body)
    result, polls = wait_for_task(
        client,
        task_id=submitted.task_id,
        req_key=req_key,
        req_json=req_json,
        interval=interval,
        max_attempts=max_attempts,
        on_result=on_result,
    )
    if result.status != TaskStatus.DONE or not result.video_url:
        return RunResult(submitted, result, None, None, polls)
    with tempfile.TemporaryDirectory() as scratch:
        target = output or Path(scratch) / "video.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        download_video(
            result.video_url,
            target,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_bytes=max_bytes,
            rules=rules,
        )
        info = probe(target)
    return RunResult(submitted, result, info, output, polls)
