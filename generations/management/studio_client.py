"""A small client of the studio's own API (docs/api.md), for the command line: jobs
made through it use the team's keys, quota and gallery like any other."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from generations.jimeng import transport
from generations.jimeng.addresses import AddressRules

TERMINAL = ("ready", "failed", "cancelled")
# Rate-limited answers are waited out this many times before giving up.
RATE_LIMIT_RETRIES = 5
CREATE_ATTEMPTS = 3
IDEMPOTENCY = "Idempotency-Key"


@dataclass
class StudioError(Exception):
    """The studio refused (status 4xx/5xx) or could not be reached (status 0)."""

    status: int
    detail: str
    errors: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def message(self) -> str:
        problems = [f"{name}: {' '.join(m)}" for name, m in self.errors.items()]
        return "; ".join([self.detail, *problems]) if problems else self.detail


@dataclass
class StudioClient:
    base_url: str  # the studio's address, e.g. https://studio.example.com/
    token: str
    rules: AddressRules
    timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def _url(self, path: str) -> str:
        return urljoin(self.base_url.rstrip("/") + "/", "api/v1/" + path.lstrip("/"))

    def _call(
        self, method: str, path: str, body: Any = None, **extra: str
    ) -> transport.HttpResponse:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            **extra,
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        request = transport.HttpRequest(
            method,
            self._url(path),
            headers,
            data,
            connect_timeout=min(10.0, self.timeout),
            read_timeout=self.timeout,
            rules=self.rules,
        )
        for _attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                response = transport.send(request, any_host=True)
            except transport.TransportFailure as failure:
                raise StudioError(
                    0, f"the studio could not be reached: {failure.message}"
                ) from None
            if response.status != 429:
                return response
            self.sleep(_retry_after(response))
        return response

    def _json(self, response: transport.HttpResponse) -> dict[str, Any]:
        try:
            answer = json.loads(response.body or b"{}")
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status >= 400:
            detail, errors = answer.get("detail"), answer.get("errors")
            raise StudioError(
                response.status,
                detail if isinstance(detail, str) else f"HTTP {response.status}",
                errors if isinstance(errors, dict) else {},
            )
        return answer

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a job. A lost answer is asked again with the same Idempotency-Key, so a
        network hiccup never starts (and charges) the job twice."""
        key = f"cli-{uuid.uuid4()}"
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self._json(self._call("POST", "generations", body, **{IDEMPOTENCY: key}))
            except StudioError as error:
                if error.status != 0 or attempt + 1 == CREATE_ATTEMPTS:
                    raise
                self.sleep(2.0 * (attempt + 1))
        raise AssertionError("unreachable")

    def get(self, generation_id: int) -> dict[str, Any]:
        return self._json(self._call("GET", f"generations/{generation_id}"))

    def wait(
        self,
        generation_id: int,
        *,
        interval: float,
        max_attempts: int,
        on_status: Callable[[str], None] = lambda status: None,
    ) -> dict[str, Any]:
        """Poll until the job is finished; TimeoutError after `max_attempts` polls."""
        last = ""
        for attempt in range(max_attempts):
            job = self.get(generation_id)
            if job["status"] != last:
                last = job["status"]
                on_status(last)
            if job["status"] in TERMINAL:
                return job
            if attempt + 1 < max_attempts:
                self.sleep(interval)
        raise TimeoutError(f"job {generation_id} still {last} after {max_attempts} polls")

    def download(self, generation_id: int, destination: Path, *, max_bytes: int) -> int:
        """Save a ready job's video: the API answers with a short-lived signed link."""
        response = self._call("GET", f"generations/{generation_id}/download")
        location = response.headers.get("Location") or response.headers.get("location")
        if response.status != 302 or not location:
            self._json(response)
            raise StudioError(response.status, "the studio gave no download link")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with destination.open("wb") as handle:
                return transport.download(
                    urljoin(self._url(""), location),
                    handle,
                    connect_timeout=min(10.0, self.timeout),
                    read_timeout=self.timeout,
                    max_bytes=max_bytes,
                    rules=self.rules,
                )
        except transport.DownloadRefused as refusal:
            raise StudioError(refusal.status, "the download was refused") from None
        except transport.TransportFailure as failure:
            raise StudioError(0, f"the download failed: {failure.message}") from None


def _retry_after(response: transport.HttpResponse) -> float:
    value = response.headers.get("Retry-After") or response.headers.get("retry-after") or "1"
    try:
        return min(60.0, max(0.5, float(value)))
    except ValueError:
        return 1.0
