"""Clients for the two upstream APIs: Volcengine's visual API and the video gateway.

Both return the same typed results and raise the same `JimengError`, so the rest of
the studio never asks which provider it talks to.

The rule for submitting (docs/pipeline.md): a submit is sent again only when the
request provably never reached the service (connection refused, DNS failure, connect
timeout). A read timeout or a connection broken after sending is an *unknown outcome*:
the task may exist upstream and be charged, so it is reported, never silently resent.

Words that come back from a host other than the vendor's official API (or our own
emulator) are never put into error messages: such a host might be an internal service
that an attacker pointed a key at, and its answer must not reach the attacker's screen.
Codes are kept when they look like codes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from generations.jimeng import transport
from generations.jimeng.addresses import STRICT, AddressRules
from generations.jimeng.errors import SUCCESS, ErrorKind, JimengError, business_error
from generations.jimeng.signer import CONTENT_TYPE, SigningInput, sign, x_date

DEFAULT_ENDPOINT = "https://visual.volcengineapi.com"
API_VERSION = "2022-08-31"
SUBMIT_ACTION = "CVSync2AsyncSubmitTask"
RESULT_ACTION = "CVSync2AsyncGetResult"


class TaskStatus(StrEnum):
    IN_QUEUE = "in_queue"
    GENERATING = "generating"
    DONE = "done"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self not in (TaskStatus.IN_QUEUE, TaskStatus.GENERATING)


# Every status word seen: the vendor's, older write-ups' (not_start, pending, running,
# success, failed) and the gateway's (queued, processing, in_progress, ...); see
# docs/upstream/volcengine-visual.md and docs/upstream/gateway.md.
STATUS_WORDS: Mapping[str, TaskStatus] = {
    "in_queue": TaskStatus.IN_QUEUE,
    "queued": TaskStatus.IN_QUEUE,
    "queueing": TaskStatus.IN_QUEUE,
    "not_start": TaskStatus.IN_QUEUE,
    "pending": TaskStatus.IN_QUEUE,
    "submitted": TaskStatus.IN_QUEUE,
    "generating": TaskStatus.GENERATING,
    "processing": TaskStatus.GENERATING,
    "in_progress": TaskStatus.GENERATING,
    "running": TaskStatus.GENERATING,
    "done": TaskStatus.DONE,
    "success": TaskStatus.DONE,
    "succeeded": TaskStatus.DONE,
    "completed": TaskStatus.DONE,
    "failed": TaskStatus.FAILED,
    "fail": TaskStatus.FAILED,
    "error": TaskStatus.FAILED,
    "cancelled": TaskStatus.FAILED,
    "canceled": TaskStatus.FAILED,
    "not_found": TaskStatus.NOT_FOUND,
    "expired": TaskStatus.EXPIRED,
}


CODE_SHAPE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def safe_code(value: Any) -> int | str | None:
    """An upstream error code, if it looks like one (a number or a short word)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and CODE_SHAPE.match(value):
        return value
    return None


def status_from_word(word: str) -> TaskStatus:
    try:
        return STATUS_WORDS[word.strip().lower()]
    except KeyError:
        # A word we have never seen must not end a job that may still succeed.
        shown = word if CODE_SHAPE.match(word) else "?"
        raise JimengError(
            f"unknown task status {shown!r}", ErrorKind.PROTOCOL, transient=True
        ) from None


@dataclass(frozen=True)
class SubmitResult:
    task_id: str
    request_id: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    status: TaskStatus
    video_url: str | None = None
    request_id: str | None = None
    aigc_meta_tagged: bool | None = None
    failure_code: int | str | None = None
    failure_message: str | None = None
    progress: int | None = None
    # Ark tells more (docs/upstream/ark.md): the last frame, the tokens billed, the seed
    # and length it used.
    last_frame_url: str | None = None
    completion_tokens: int | None = None
    seed: int | None = None
    seconds: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    query: float = 15.0
    submit: float = 60.0


class UpstreamClient(Protocol):
    def submit(self, body: Mapping[str, Any]) -> SubmitResult: ...

    def get_result(
        self, *, task_id: str, req_key: str, req_json: str | None = None
    ) -> TaskResult: ...


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _decode(response: transport.HttpResponse) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        transient = response.status == 429 or response.status >= 500
        raise JimengError(
            f"the answer is not JSON (HTTP {response.status})",
            ErrorKind.HTTP if response.status >= 400 else ErrorKind.PROTOCOL,
            http_status=response.status,
            transient=transient,
        ) from None


def _as_unknown_outcome(error: JimengError) -> JimengError:
    """A submit that failed after it may have reached the service."""
    error.outcome_unknown = True
    error.transient = False
    error.message = f"submit outcome unknown ({error.message}); not resent to avoid paying twice"
    return error


def _send_submit(
    request: transport.HttpRequest,
    parse: Callable[[transport.HttpResponse], SubmitResult],
    *,
    attempts: int,
    sleep: Callable[[float], None],
) -> SubmitResult:
    for attempt in range(1, attempts + 1):
        try:
            response = transport.send(request)
        except transport.TransportFailure as failure:
            error = _transport_error(failure)
            if failure.refused:
                raise error from None
            if not failure.reached_service and attempt < attempts:
                sleep(0.5 * attempt)
                continue
            raise error if not failure.reached_service else _as_unknown_outcome(error) from None
        try:
            return parse(response)
        except JimengError as error:
            # An answer without a business envelope (a proxy's 502, say) does not say
            # whether the task was created.
            if error.kind in (ErrorKind.HTTP, ErrorKind.PROTOCOL) and response.status >= 500:
                raise _as_unknown_outcome(error) from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _transport_error(failure: transport.TransportFailure) -> JimengError:
    if failure.refused:
        # "address" when the URL may not be used; "address_private" when its host may,
        # but resolved to an internal address (docs/security.md).
        code = "address_private" if failure.internal else None
        return JimengError(failure.message, ErrorKind.ADDRESS, code=code, reached_service=False)
    return JimengError(
        failure.message,
        ErrorKind.TIMEOUT if failure.timed_out else ErrorKind.NETWORK,
        transient=True,
        reached_service=failure.reached_service,
    )


def _query(request: transport.HttpRequest) -> transport.HttpResponse:
    try:
        return transport.send(request)
    except transport.TransportFailure as failure:
        raise _transport_error(failure) from None


class VolcengineClient:
    """CVSync2AsyncSubmitTask / CVSync2AsyncGetResult, signed with V4."""

    def __init__(
        self,
        *,
        access_key: str,
        secret_key: str,
        endpoint: str = DEFAULT_ENDPOINT,
        timeouts: Timeouts | None = None,
        submit_attempts: int = 3,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rules: AddressRules = STRICT,
    ) -> None:
        self.access_key = access_key
        self._secret_key = secret_key
        parts = urlsplit(endpoint.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"endpoint must be an http(s) URL, not {endpoint!r}")
        self._scheme, self._host, self._path = parts.scheme, parts.netloc, parts.path or "/"
        self.timeouts = timeouts or Timeouts()
        self.submit_attempts = submit_attempts
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self.rules = rules
        self._words = _Words(rules.is_official(self.endpoint))

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"VolcengineClient(access_key={self.access_key[:6]}…, endpoint={self.endpoint})"

    @property
    def endpoint(self) -> str:
        return f"{self._scheme}://{self._host}{self._path}"

    def _request(self, action: str, body: bytes, read_timeout: float) -> transport.HttpRequest:
        query = (("Action", action), ("Version", API_VERSION))
        signing = SigningInput("POST", self._host, self._path, query, body, x_date(self._clock()))
        headers = sign(signing, access_key=self.access_key, secret_key=self._secret_key)
        return transport.HttpRequest(
            "POST",
            f"{self.endpoint}?{urlencode(query)}",
            headers,
            body,
            connect_timeout=self.timeouts.connect,
            read_timeout=read_timeout,
            rules=self.rules,
        )

    def submit(self, body: Mapping[str, Any]) -> SubmitResult:
        request = self._request(SUBMIT_ACTION, _encode(body), self.timeouts.submit)
        return _send_submit(
            request, self._parse_submit, attempts=self.submit_attempts, sleep=self._sleep
        )

    def get_result(self, *, task_id: str, req_key: str, req_json: str | None = None) -> TaskResult:
        body: dict[str, Any] = {"req_key": req_key, "task_id": task_id}
        if req_json:
            body["req_json"] = req_json
        response = _query(self._request(RESULT_ACTION, _encode(body), self.timeouts.query))
        return self._parse_result(task_id, response)

    def _parse_submit(self, response: transport.HttpResponse) -> SubmitResult:
        payload, request_id = self._envelope(response)
        data = payload.get("data") or {}
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not task_id:
            raise JimengError(
                "the submit answer has no task_id",
                ErrorKind.PROTOCOL,
                http_status=response.status,
                request_id=request_id,
            )
        return SubmitResult(str(task_id), request_id, payload)

    def _parse_result(self, task_id: str, response: transport.HttpResponse) -> TaskResult:
        payload = _decode(response)
        if not isinstance(payload, dict):
            raise JimengError("the answer is not a JSON object", ErrorKind.PROTOCOL)
        data = _object(payload.get("data"))
        code = payload.get("code")
        # A finished task that failed review comes back as done with an error code.
        if isinstance(code, int) and code != SUCCESS and data.get("status") == "done":
            return TaskResult(
                task_id,
                TaskStatus.FAILED,
                request_id=_request_id(payload),
                failure_code=code,
                failure_message=self._words.text(payload.get("message")),
                raw=payload,
            )
        payload, request_id = self._envelope(response, payload)
        status = status_from_word(str(data.get("status") or ""))
        return TaskResult(
            task_id,
            status,
            video_url=data.get("video_url") or None,
            request_id=request_id,
            aigc_meta_tagged=data.get("aigc_meta_tagged"),
            failure_code=None if status != TaskStatus.FAILED else safe_code(data.get("error_code")),
            failure_message=None
            if status != TaskStatus.FAILED
            else self._words.text(data.get("error")),
            raw=payload,
        )

    def _envelope(
        self, response: transport.HttpResponse, payload: Any = None
    ) -> tuple[dict[str, Any], str | None]:
        """Check both envelopes; return the payload and request_id, or raise."""
        if payload is None:
            payload = _decode(response)
        if not isinstance(payload, dict):
            raise JimengError("the answer is not a JSON object", ErrorKind.PROTOCOL)
        request_id = _request_id(payload)
        metadata = payload.get("ResponseMetadata")
        error = metadata.get("Error") if isinstance(metadata, dict) else None
        if isinstance(error, dict) and error:
            code = safe_code(error.get("CodeN")) or safe_code(error.get("Code"))
            raise JimengError(
                self._words.text(error.get("Message")) or str(code or "gateway error"),
                ErrorKind.GATEWAY,
                http_status=response.status,
                code=code,
                request_id=request_id,
                transient=response.status == 429 or response.status >= 500,
            )
        code = payload.get("code")
        if code is None and "data" in payload and response.status == 200:
            return payload, request_id  # an older ResponseMetadata + data envelope
        if code != SUCCESS:
            if isinstance(code, int):
                raise business_error(
                    code=code,
                    message=self._words.text(payload.get("message")),
                    http_status=response.status,
                    request_id=request_id,
                )
            raise JimengError(
                f"unexpected answer (HTTP {response.status})",
                ErrorKind.HTTP if response.status >= 400 else ErrorKind.PROTOCOL,
                http_status=response.status,
                request_id=request_id,
                transient=response.status == 429 or response.status >= 500,
            )
        return payload, request_id


@dataclass(frozen=True)
class _Words:
    """Upstream text, passed on only when it comes from an official host."""

    trusted: bool

    def text(self, value: Any) -> str:
        if not self.trusted or value is None:
            return ""
        return str(value)[:300]


def _request_id(payload: Mapping[str, Any]) -> str | None:
    metadata = payload.get("ResponseMetadata")
    from_metadata = metadata.get("RequestId") if isinstance(metadata, dict) else None
    value = safe_code(payload.get("request_id") or from_metadata)
    return str(value) if value else None


class GatewayClient:
    """The OpenAI-style video gateway (docs/upstream/gateway.md), with a Bearer key."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeouts: Timeouts | None = None,
        submit_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        rules: AddressRules = STRICT,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base URL must be an http(s) URL, not {base_url!r}")
        base = base_url.strip().rstrip("/")
        self._collection = base + (
            "/video/generations" if base.endswith("/v1") else "/v1/video/generations"
        )
        self._api_key = api_key
        self.timeouts = timeouts or Timeouts()
        self.submit_attempts = submit_attempts
        self._sleep = sleep
        self.rules = rules
        self._words = _Words(rules.is_official(self._collection))

    def __repr__(self) -> str:
        return f"GatewayClient(url={self._collection})"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Content-Type": CONTENT_TYPE}

    def submit(self, body: Mapping[str, Any]) -> SubmitResult:
        request = transport.HttpRequest(
            "POST",
            self._collection,
            self._headers(),
            _encode(body),
            connect_timeout=self.timeouts.connect,
            read_timeout=self.timeouts.submit,
            rules=self.rules,
        )
        return _send_submit(
            request, self._parse_submit, attempts=self.submit_attempts, sleep=self._sleep
        )

    def get_result(
        self, *, task_id: str, req_key: str = "", req_json: str | None = None
    ) -> TaskResult:
        request = transport.HttpRequest(
            "GET",
            f"{self._collection}/{task_id}",
            self._headers(),
            connect_timeout=self.timeouts.connect,
            read_timeout=self.timeouts.query,
            rules=self.rules,
        )
        response = _query(request)
        if response.status == 404:
            return TaskResult(task_id, TaskStatus.NOT_FOUND, raw={})
        payload = self._checked(response)
        status = status_from_word(str(payload.get("status") or ""))
        error = _object(payload.get("error"))
        return TaskResult(
            task_id,
            status,
            video_url=payload.get("url") or payload.get("video_url") or None,
            request_id=_request_id(payload),
            failure_code=safe_code(error.get("code")) if status == TaskStatus.FAILED else None,
            failure_message=self._words.text(error.get("message"))
            if status == TaskStatus.FAILED
            else None,
            progress=payload.get("progress"),
            raw=payload,
        )

    def _parse_submit(self, response: transport.HttpResponse) -> SubmitResult:
        payload = self._checked(response)
        task_id = payload.get("task_id") or payload.get("id")
        if not task_id:
            raise JimengError("the submit answer has no task id", ErrorKind.PROTOCOL)
        return SubmitResult(str(task_id), _request_id(payload), payload)

    def _checked(self, response: transport.HttpResponse) -> dict[str, Any]:
        payload = _decode(response)
        if not isinstance(payload, dict):
            raise JimengError("the answer is not a JSON object", ErrorKind.PROTOCOL)
        if response.status < 400:
            return payload
        error = _object(payload.get("error"))
        status = response.status
        raise JimengError(
            self._words.text(error.get("message")) or f"gateway answered HTTP {status}",
            ErrorKind.GATEWAY if status in (401, 403) else ErrorKind.HTTP,
            http_status=status,
            code=safe_code(error.get("code")),
            request_id=_request_id(payload),
            transient=status == 429 or status >= 500,
        )


DEFAULT_ARK_URL = "https://ark.cn-beijing.volces.com/api/v3"
# Ark's task status words (docs/upstream/ark.md); "cancelled" ends a job like a failure.
ARK_STATUSES = {
    "queued": TaskStatus.IN_QUEUE,
    "running": TaskStatus.GENERATING,
    "succeeded": TaskStatus.DONE,
    "failed": TaskStatus.FAILED,
    "cancelled": TaskStatus.FAILED,
    "expired": TaskStatus.EXPIRED,
}


@dataclass(frozen=True)
class ArkTaskSummary:
    """A task as `list` shows it: enough to recognise one of ours."""

    id: str
    status: str
    created_at: int
    safety_identifier: str | None


class ArkClient:
    """Volcengine Ark's video tasks (docs/upstream/ark.md), with a Bearer key.

    Create has no idempotency key, so it is sent once: only a request that provably
    never left is sent again; anything else that gives no answer is an unknown outcome,
    to be settled by `find` (a list search for the job's safety_identifier) before any
    resend.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_ARK_URL,
        timeouts: Timeouts | None = None,
        submit_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        rules: AddressRules = STRICT,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base URL must be an http(s) URL, not {base_url!r}")
        self._tasks = base_url.strip().rstrip("/") + "/contents/generations/tasks"
        self._api_key = api_key
        self.timeouts = timeouts or Timeouts()
        self.submit_attempts = submit_attempts
        self._sleep = sleep
        self.rules = rules
        self._words = _Words(rules.is_official(self._tasks))

    def __repr__(self) -> str:
        return f"ArkClient(url={self._tasks})"

    def _request(
        self, method: str, url: str, *, body: bytes | None = None, read_timeout: float
    ) -> transport.HttpRequest:
        headers = {"Authorization": f"Bearer {self._api_key}", "Content-Type": CONTENT_TYPE}
        return transport.HttpRequest(
            method,
            url,
            headers,
            body,
            connect_timeout=self.timeouts.connect,
            read_timeout=read_timeout,
            rules=self.rules,
        )

    def submit(self, body: Mapping[str, Any]) -> SubmitResult:
        request = self._request(
            "POST", self._tasks, body=_encode(body), read_timeout=self.timeouts.submit
        )
        return _send_submit(
            request, self._parse_created, attempts=self.submit_attempts, sleep=self._sleep
        )

    def _parse_created(self, response: transport.HttpResponse) -> SubmitResult:
        payload = self._checked(response)
        task_id = payload.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise JimengError("the create answer has no task id", ErrorKind.PROTOCOL)
        return SubmitResult(task_id, _request_id(payload), payload)

    def get_result(
        self, *, task_id: str, req_key: str = "", req_json: str | None = None
    ) -> TaskResult:
        url = f"{self._tasks}/{quote(task_id, safe='')}"
        response = _query(self._request("GET", url, read_timeout=self.timeouts.query))
        if response.status == 404:
            return TaskResult(task_id, TaskStatus.NOT_FOUND, raw={})
        return self._task(task_id, self._checked(response))

    def _task(self, task_id: str, payload: dict[str, Any]) -> TaskResult:
        word = str(payload.get("status") or "")
        status = ARK_STATUSES.get(word)
        if status is None:
            status = status_from_word(word)  # raises a transient error for a new word
        content, usage, error = (_object(payload.get(key)) for key in ("content", "usage", "error"))
        failed = status == TaskStatus.FAILED
        tokens = usage.get("completion_tokens")
        return TaskResult(
            task_id,
            status,
            video_url=_text(content.get("video_url")),
            request_id=_request_id(payload),
            failure_code=(safe_code(error.get("code")) or word) if failed else None,
            failure_message=self._words.text(error.get("message")) if failed else None,
            last_frame_url=_text(content.get("last_frame_url")),
            completion_tokens=tokens if isinstance(tokens, int) else None,
            seed=payload.get("seed") if isinstance(payload.get("seed"), int) else None,
            seconds=payload.get("duration") if isinstance(payload.get("duration"), int) else None,
            raw=payload,
        )

    def list_tasks(
        self, *, model: str | None = None, page_num: int = 1, page_size: int = 100
    ) -> list[ArkTaskSummary]:
        query = [("page_num", str(page_num)), ("page_size", str(page_size))]
        if model:
            query.append(("filter.model", model))
        url = f"{self._tasks}?{urlencode(query)}"
        payload = self._checked(_query(self._request("GET", url, read_timeout=self.timeouts.query)))
        items = payload.get("items")
        return (
            [_summary(item) for item in items if isinstance(item, dict)]
            if isinstance(items, list)
            else []
        )

    def find(
        self, *, model: str, safety_identifier: str, since: float, pages: int = 5
    ) -> str | None:
        """The id of a task created since `since` (unix seconds) carrying this
        safety_identifier, or None when the newest `pages` pages do not hold it."""
        for page in range(1, pages + 1):
            items = self.list_tasks(model=model, page_num=page)
            for item in items:
                if item.safety_identifier == safety_identifier and item.created_at >= since:
                    return item.id
            if not items or all(item.created_at < since for item in items):
                return None
        return None

    def cancel(self, task_id: str) -> None:
        """DELETE: a queued task becomes cancelled; a running one is refused (an error)."""
        url = f"{self._tasks}/{quote(task_id, safe='')}"
        response = _query(self._request("DELETE", url, read_timeout=self.timeouts.query))
        if response.status >= 400:
            self._checked(response)

    def _checked(self, response: transport.HttpResponse) -> dict[str, Any]:
        """The answer's JSON object, or the error envelope as a JimengError."""
        payload = _decode(response) if response.body else {}
        if not isinstance(payload, dict):
            raise JimengError("the answer is not a JSON object", ErrorKind.PROTOCOL)
        if response.status < 400:
            return payload
        error = _object(payload.get("error"))
        status = response.status
        raise JimengError(
            self._words.text(error.get("message")) or f"Ark answered HTTP {status}",
            ErrorKind.GATEWAY if status in (401, 403) else ErrorKind.HTTP,
            http_status=status,
            code=safe_code(error.get("code")),
            request_id=_request_id(payload),
            transient=status == 429 or status >= 500,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _summary(item: dict[str, Any]) -> ArkTaskSummary:
    created = item.get("created_at")
    identifier = item.get("safety_identifier")
    return ArkTaskSummary(
        id=str(item.get("id") or ""),
        status=str(item.get("status") or ""),
        created_at=created if isinstance(created, int) else 0,
        safety_identifier=identifier if isinstance(identifier, str) else None,
    )
