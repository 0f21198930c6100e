"""How the clients map answers and failures onto results and JimengError.

Envelope mapping patches the one transport function (autospec). Network failures are
real: a closed port and a server that never answers.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from unittest import mock

import pytest

from generations.jimeng import transport
from generations.jimeng.addresses import AddressRules, Place
from generations.jimeng.client import (
    GatewayClient,
    TaskStatus,
    Timeouts,
    VolcengineClient,
    status_from_word,
)
from generations.jimeng.errors import ErrorKind, JimengError


def _client(endpoint: str = "https://visual.volcengineapi.com", **kwargs) -> VolcengineClient:
    """A client for `endpoint`; a local test server's address is trusted like the emulator."""
    rules = AddressRules(trusted=(Place.origin(endpoint),))
    return VolcengineClient(
        access_key="AK",
        secret_key="SK",
        endpoint=endpoint,
        sleep=lambda _: None,
        rules=rules,
        **kwargs,
    )


def _answer(status: int, payload: object) -> transport.HttpResponse:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return transport.HttpResponse(status=status, body=body)


@pytest.fixture
def send() -> Iterator[mock.MagicMock]:
    with mock.patch.object(transport, "send", autospec=True) as patched:
        yield patched


def test_submit_success_returns_task_and_request_id(send) -> None:
    send.return_value = _answer(
        200, {"code": 10000, "data": {"task_id": "42"}, "message": "Success", "request_id": "R1"}
    )
    result = _client().submit({"req_key": "jimeng_t2v_v30", "prompt": "x"})
    assert (result.task_id, result.request_id) == ("42", "R1")


def test_query_50429_is_transient_and_busy(send) -> None:
    send.return_value = _answer(
        429,
        {
            "code": 50429,
            "data": None,
            "message": "Request Has Reached API Limit",
            "request_id": "R",
        },
    )
    with pytest.raises(JimengError) as caught:
        _client().get_result(task_id="1", req_key="jimeng_t2v_v30")
    error = caught.value
    assert (error.code, error.http_status, error.transient, error.is_busy) == (
        50429,
        429,
        True,
        True,
    )
    assert error.request_id == "R"


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (50411, False),
        (50412, False),
        (50413, False),
        (50511, True),
        (50512, False),
        (50516, True),
        (50517, True),
        (50518, False),
        (50519, True),
        (50520, False),
        (50430, True),
        (50500, True),
        (50501, True),
        (50200, False),
        (50400, False),
    ],
)
def test_retry_column_of_the_contract(send, code: int, transient: bool) -> None:
    send.return_value = _answer(400, {"code": code, "data": None, "message": "m"})
    with pytest.raises(JimengError) as caught:
        _client().submit({"req_key": "jimeng_t2v_v30"})
    assert caught.value.transient is transient
    assert caught.value.outcome_unknown is False  # an envelope says no task was made


def test_gateway_envelope_error(send) -> None:
    send.return_value = _answer(
        401,
        {
            "ResponseMetadata": {
                "RequestId": "RQ",
                "Action": "CVSync2AsyncGetResult",
                "Error": {
                    "CodeN": 100010,
                    "Code": "SignatureDoesNotMatch",
                    "Message": "signature mismatch",
                },
            }
        },
    )
    with pytest.raises(JimengError) as caught:
        _client().get_result(task_id="1", req_key="jimeng_t2v_v30")
    error = caught.value
    assert (error.kind, error.code, error.request_id, error.transient) == (
        ErrorKind.GATEWAY,
        100010,
        "RQ",
        False,
    )
    assert error.is_auth


def test_done_with_failure_code_is_a_failed_result(send) -> None:
    send.return_value = _answer(
        400,
        {
            "code": 50516,
            "data": {"status": "done", "video_url": ""},
            "message": "Post Video Risk Not Pass",
            "request_id": "R",
        },
    )
    result = _client().get_result(task_id="1", req_key="jimeng_t2v_v30")
    assert result.status == TaskStatus.FAILED
    assert (result.failure_code, result.failure_message) == (50516, "Post Video Risk Not Pass")


def test_done_result_reads_url_and_aigc_flag_ignoring_outer_status(send) -> None:
    send.return_value = _answer(
        200,
        {
            "code": 10000,
            "status": 50000,
            "message": "Success",
            "request_id": "R",
            "data": {"status": "done", "video_url": "https://v/x.mp4", "aigc_meta_tagged": True},
        },
    )
    result = _client().get_result(task_id="1", req_key="k", req_json='{"aigc_meta":{}}')
    assert (result.status, result.video_url, result.aigc_meta_tagged) == (
        TaskStatus.DONE,
        "https://v/x.mp4",
        True,
    )
    sent = json.loads(send.call_args.args[0].body)
    assert sent["req_json"] == '{"aigc_meta":{}}'  # a JSON string, not an object


def test_seed_001_envelope_without_code_is_accepted(send) -> None:
    send.return_value = _answer(
        200, {"ResponseMetadata": {"RequestId": "X"}, "data": {"task_id": "9"}}
    )
    assert _client().submit({"req_key": "k"}).task_id == "9"


def test_non_json_error_page_on_query_is_transient(send) -> None:
    send.return_value = _answer(502, b"<html>Bad Gateway</html>")
    with pytest.raises(JimengError) as caught:
        _client().get_result(task_id="1", req_key="k")
    assert caught.value.transient and caught.value.kind == ErrorKind.HTTP


def test_non_json_error_page_on_submit_is_an_unknown_outcome(send) -> None:
    send.return_value = _answer(502, b"<html>Bad Gateway</html>")
    with pytest.raises(JimengError) as caught:
        _client().submit({"req_key": "k"})
    assert caught.value.outcome_unknown and not caught.value.transient
    assert send.call_count == 1


def test_submit_read_timeout_is_unknown_and_sent_once(send) -> None:
    send.side_effect = transport.TransportFailure("no answer", reached_service=True, timed_out=True)
    with pytest.raises(JimengError) as caught:
        _client().submit({"req_key": "k"})
    assert caught.value.outcome_unknown and caught.value.kind == ErrorKind.TIMEOUT
    assert "not resent" in str(caught.value)
    assert send.call_count == 1


def test_submit_is_resent_only_when_it_never_reached_the_service(send) -> None:
    ok = _answer(200, {"code": 10000, "data": {"task_id": "7"}, "request_id": "R"})
    send.side_effect = [
        transport.TransportFailure("refused", reached_service=False),
        transport.TransportFailure("refused", reached_service=False),
        ok,
    ]
    assert _client().submit({"req_key": "k"}).task_id == "7"
    assert send.call_count == 3
    bodies = {call.args[0].body for call in send.call_args_list}
    assert len(bodies) == 1  # the same bytes each time


def test_query_timeout_is_transient(send) -> None:
    send.side_effect = transport.TransportFailure("slow", reached_service=True, timed_out=True)
    with pytest.raises(JimengError) as caught:
        _client().get_result(task_id="1", req_key="k")
    assert caught.value.transient and caught.value.is_busy


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("queued", TaskStatus.IN_QUEUE),
        ("in_queue", TaskStatus.IN_QUEUE),
        ("not_start", TaskStatus.IN_QUEUE),
        ("pending", TaskStatus.IN_QUEUE),
        ("processing", TaskStatus.GENERATING),
        ("in_progress", TaskStatus.GENERATING),
        ("running", TaskStatus.GENERATING),
        ("generating", TaskStatus.GENERATING),
        ("succeeded", TaskStatus.DONE),
        ("completed", TaskStatus.DONE),
        ("success", TaskStatus.DONE),
        ("done", TaskStatus.DONE),
        ("failed", TaskStatus.FAILED),
        ("fail", TaskStatus.FAILED),
        ("not_found", TaskStatus.NOT_FOUND),
        ("expired", TaskStatus.EXPIRED),
        ("SUCCEEDED", TaskStatus.DONE),
    ],
)
def test_every_status_word_maps(word: str, status: TaskStatus) -> None:
    assert status_from_word(word) == status


def test_an_unknown_status_word_keeps_the_job_alive() -> None:
    with pytest.raises(JimengError) as caught:
        status_from_word("warming_up")
    assert caught.value.transient


def test_gateway_maps_words_and_errors(send) -> None:
    client = GatewayClient(api_key="k", base_url="https://gw.example/v1")
    send.return_value = _answer(200, {"id": "cgt-1", "status": "in_progress", "progress": 40})
    result = client.get_result(task_id="cgt-1")
    assert (result.status, result.progress) == (TaskStatus.GENERATING, 40)
    assert send.call_args.args[0].url == "https://gw.example/v1/video/generations/cgt-1"
    assert send.call_args.args[0].headers["Authorization"] == "Bearer k"
    send.return_value = _answer(401, {"error": {"message": "bad key", "code": "invalid_api_key"}})
    with pytest.raises(JimengError) as caught:
        client.get_result(task_id="cgt-1")
    assert caught.value.is_auth and not caught.value.transient


def test_client_repr_hides_the_secret() -> None:
    client = VolcengineClient(access_key="AKLTabcdef123", secret_key="TOPSECRET")
    assert "TOPSECRET" not in repr(client)
    assert "TOPSECRET" not in repr(GatewayClient(api_key="TOPSECRET", base_url="https://g"))


# --- real network failures -------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_retried_then_reported_as_never_reached() -> None:
    client = _client(f"http://127.0.0.1:{_closed_port()}/", timeouts=Timeouts(1, 1, 1))
    with pytest.raises(JimengError) as caught:
        client.submit({"req_key": "k"})
    error = caught.value
    assert error.kind == ErrorKind.NETWORK
    assert not error.reached_service and not error.outcome_unknown
    assert error.transient  # safe to try again later: nothing reached the service


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and reads requests, but never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_real_read_timeout_on_submit_is_unknown_outcome(silent_server: int) -> None:
    client = _client(f"http://127.0.0.1:{silent_server}/", timeouts=Timeouts(1, 0.3, 0.3))
    with pytest.raises(JimengError) as caught:
        client.submit({"req_key": "k"})
    assert caught.value.outcome_unknown and caught.value.kind == ErrorKind.TIMEOUT


def test_real_read_timeout_on_query_is_transient(silent_server: int) -> None:
    client = _client(f"http://127.0.0.1:{silent_server}/", timeouts=Timeouts(1, 0.3, 0.3))
    with pytest.raises(JimengError) as caught:
        client.get_result(task_id="1", req_key="k")
    assert caught.value.transient and caught.value.kind == ErrorKind.TIMEOUT
