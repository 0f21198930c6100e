"""The emulated Volcengine visual API: signature check, CVSync2AsyncSubmitTask and
CVSync2AsyncGetResult (docs/upstream/volcengine-visual.md)."""

from __future__ import annotations

import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from generations.jimeng.signer import SigningInput, parse_authorization
from sandbox import conf, faults
from sandbox.conf import SandboxSettings
from sandbox.store import Store
from sandbox.tasks import (
    about,
    create_task,
    elapsed,
    own_samples,
    parse_json,
    render_queue_full,
    request_id,
    site_of,
    status_of,
    store_for,
    video_url,
)
from sandbox.validate import Refusal, check_volcengine

API_VERSION = "2022-08-31"

SUBMIT = "CVSync2AsyncSubmitTask"

RESULT = "CVSync2AsyncGetResult"

CLOCK_SKEW_SECONDS = 15 * 60
BUSY = {
    50429: "Request Has Reached API Limit",
    50430: "Request Has Reached API Concurrent Limit",
    50500: "Internal Error",
}


def _business(
    code: int, message: str, data: Any, started: float, http_status: int = 200
) -> JsonResponse:
    payload = {
        "code": code,
        "data": data,
        "message": message,
        "request_id": request_id(),
        "status": code,
        "time_elapsed": elapsed(started),
    }
    return JsonResponse(payload, status=http_status, json_dumps_params={"ensure_ascii": False})


def _gateway_error(
    http_status: int, code: str, code_n: int, message: str, action: str
) -> JsonResponse:
    payload = {
        "ResponseMetadata": {
            "RequestId": request_id(),
            "Action": action,
            "Version": API_VERSION,
            "Service": "cv",
            "Region": "cn-north-1",
            "Error": {"CodeN": code_n, "Code": code, "Message": message},
        }
    }
    return JsonResponse(payload, status=http_status)


def _verify_signature(
    request: HttpRequest, body: bytes, config: SandboxSettings, action: str
) -> JsonResponse | None:
    """None when the request is signed with the sandbox key; otherwise the refusal."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return _gateway_error(
            401,
            "MissingAuthenticationToken",
            100003,
            "Request is missing Authentication Token.",
            action,
        )
    auth = parse_authorization(header)
    date = request.META.get("HTTP_X_DATE", "")
    if auth is None or not date:
        return _gateway_error(
            400,
            "MissingRequestInfo",
            100004,
            "The request is missing X-Date or a valid Authorization.",
            action,
        )
    if auth.access_key != config.access_key:
        return _gateway_error(
            401,
            "InvalidAccessKey",
            100009,
            f"The accesskey [{auth.access_key}] included in the request is invalid.",
            action,
        )
    try:
        signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        signed_at = None
    if (
        signed_at is None
        or abs((datetime.now(UTC) - signed_at).total_seconds()) > CLOCK_SKEW_SECONDS
    ):
        return _gateway_error(
            400, "InvalidTimestamp", 100006, "The Signature of the request is expired.", action
        )
    signing = SigningInput(
        "POST",
        request.META.get("HTTP_HOST", ""),
        request.path,
        tuple(parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)),
        body,
        date,
        content_type=request.META.get("CONTENT_TYPE", ""),
    )
    expected = signing.signature(config.secret_key)
    claimed_hash = request.META.get("HTTP_X_CONTENT_SHA256", "")
    if not hmac.compare_digest(expected, auth.signature) or claimed_hash != signing.body_hash:
        return _gateway_error(
            401,
            "SignatureDoesNotMatch",
            100010,
            "The request signature we calculated does not match the signature you provided. "
            "Check your Secret Access Key and signing method.",
            action,
        )
    return None


@csrf_exempt
def volcengine(request: HttpRequest) -> HttpResponseBase:
    started = time.perf_counter()
    config = conf.current()
    action = request.GET.get("Action", "")
    if request.method != "POST":
        return _gateway_error(
            405, "InvalidActionOrVersion", 100008, "Only POST is supported.", action
        )
    if not action or not request.GET.get("Version"):
        return _gateway_error(
            400,
            "MissingParameter",
            100002,
            "The request is missing Action or Version parameter.",
            action,
        )
    body = request.body
    refusal = _verify_signature(request, body, config, action)
    if refusal is not None:
        return refusal
    if action not in (SUBMIT, RESULT) or request.GET.get("Version") != API_VERSION:
        message = f"Could not find operation {action} for version {request.GET.get('Version')}."
        return _gateway_error(404, "InvalidActionOrVersion", 100008, message, action)
    kind = "submit" if action == SUBMIT else "query"
    store = store_for(config)
    prompt, subject = about(store, kind, body)
    call_id = store.admit(
        api="volcengine", action=kind, access_key=config.access_key, qps=config.qps, subject=subject
    )
    if call_id is None:
        return _business(50429, "Request Has Reached API Limit", None, started, 429)
    fault = faults.choose(config, store, kind, prompt=prompt, subject=subject, call_id=call_id)
    handler = _submit if kind == "submit" else _result
    return faults.answer(
        fault,
        store,
        call_id,
        config,
        lambda: handler(request, body, config, store, started),
        lambda code: _business(code, BUSY[code], None, started, 500 if code == 50500 else 429),
    )


def _submit(
    request: HttpRequest, body: bytes, config: SandboxSettings, store: Store, started: float
) -> JsonResponse:
    try:
        payload = parse_json(body)
        accepted = check_volcengine(
            payload, text_risk_marker=config.text_risk_marker, fetch=own_samples(request)
        )
        busy = config.concurrency and store.unfinished(config.access_key) >= config.concurrency
        if busy or render_queue_full(config):
            raise Refusal(429, 50430, "Request Has Reached API Concurrent Limit")
    except Refusal as refusal:
        return _business(int(refusal.code), refusal.message, None, started, refusal.http_status)
    task_id = str(secrets.randbelow(9 * 10**18) + 10**18)
    create_task(
        api="volcengine",
        access_key=config.access_key,
        accepted=accepted,
        body=payload,
        config=config,
        store=store,
        task_id=task_id,
    )
    response = _business(10000, "Success", {"task_id": task_id}, started)
    response.sandbox_task_id = task_id  # type: ignore[attr-defined]
    return response


def _result(
    request: HttpRequest, body: bytes, config: SandboxSettings, store: Store, started: float
) -> JsonResponse:
    try:
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise Refusal(400, 50204, "the body must be a JSON object")
        for field in ("req_key", "task_id"):
            if not payload.get(field):
                raise Refusal(400, 50201, f"missing required field: {field}")
        tagged = _aigc_tagged(payload.get("req_json"))
    except Refusal as refusal:
        return _business(int(refusal.code), refusal.message, None, started, refusal.http_status)
    task = store.get_task(str(payload["task_id"]))
    if task is not None and task.req_key != payload["req_key"]:
        task = None
    status = status_of(task, config, store)
    data: dict[str, Any] = {"status": status, "video_url": ""}
    if task is not None and status == "done":
        if task.outcome == "risk":
            data["aigc_meta_tagged"] = tagged
            return _business(50516, "Post Video Risk Not Pass", data, started, 400)
        data["video_url"] = video_url(site_of(request), task, config)
        data["aigc_meta_tagged"] = tagged
    return _business(10000, "Success", data, started)


def _aigc_tagged(req_json: Any) -> bool:
    if req_json in (None, ""):
        return False
    if not isinstance(req_json, str):
        raise Refusal(400, 50200, "req_json must be a JSON string")
    try:
        parsed = json.loads(req_json)
    except ValueError:
        raise Refusal(400, 50204, "req_json is not valid JSON") from None
    return isinstance(parsed, dict) and isinstance(parsed.get("aigc_meta"), dict)
