"""The emulator behaves as docs/emulator.md and docs/upstream/ say, over real HTTP."""

from __future__ import annotations

import base64
import importlib
import time

import av
import pytest
import requests
from django.urls import Resolver404, clear_url_caches, resolve

from generations.jimeng.client import TaskStatus
from generations.jimeng.errors import ErrorKind, JimengError
from generations.jimeng.signer import SigningInput, sign
from tests import images
from tests.conftest import SANDBOX_AK, SANDBOX_SK


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _refusal(client, body: dict) -> JimengError:
    with pytest.raises(JimengError) as caught:
        client.submit(body)
    return caught.value


def _wait(client, task_id: str, req_key: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = client.get_result(task_id=task_id, req_key=req_key)
        if result.status.is_final:
            return result
        time.sleep(0.1)
    raise AssertionError("the emulator task never finished")


def test_unknown_access_key_is_refused(emulator) -> None:
    query = (("Action", "CVSync2AsyncSubmitTask"), ("Version", "2022-08-31"))
    host = emulator.base_url.split("//")[1]
    body = b'{"req_key":"jimeng_t2v_v30","prompt":"x"}'
    from generations.jimeng.signer import x_date

    signing = SigningInput("POST", host, "/sandbox/volcengine/", query, body, x_date())
    headers = sign(signing, access_key="AKLTsomeoneElse", secret_key=SANDBOX_SK)
    answer = requests.post(
        f"{emulator.volcengine_url}?Action=CVSync2AsyncSubmitTask&Version=2022-08-31",
        data=body,
        headers=headers,
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["ResponseMetadata"]["Error"]["CodeN"] == 100009


def test_unsigned_request_is_refused(emulator) -> None:
    answer = requests.post(
        f"{emulator.volcengine_url}?Action=CVSync2AsyncSubmitTask&Version=2022-08-31",
        json={"req_key": "jimeng_t2v_v30"},
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["ResponseMetadata"]["Error"]["Code"] == "MissingAuthenticationToken"


def test_tampered_body_is_refused(emulator) -> None:
    query = (("Action", "CVSync2AsyncSubmitTask"), ("Version", "2022-08-31"))
    host = emulator.base_url.split("//")[1]
    from generations.jimeng.signer import x_date

    signed_body = b'{"req_key":"jimeng_t2v_v30","prompt":"x"}'
    signing = SigningInput("POST", host, "/sandbox/volcengine/", query, signed_body, x_date())
    headers = sign(signing, access_key=SANDBOX_AK, secret_key=SANDBOX_SK)
    answer = requests.post(
        f"{emulator.volcengine_url}?Action=CVSync2AsyncSubmitTask&Version=2022-08-31",
        data=b'{"req_key":"jimeng_t2v_v30","prompt":"y"}',
        headers=headers,
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["ResponseMetadata"]["Error"]["CodeN"] == 100010


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"req_key": "jimeng_t2v_v30", "prompt": "x", "frames": 100}, 50200, "frames"),
        ({"req_key": "jimeng_t2v_v30"}, 50201, "prompt"),
        (
            {"req_key": "jimeng_t2v_v30", "prompt": "x", "aspect_ratio": "2:1"},
            50200,
            "aspect_ratio",
        ),
        ({"req_key": "jimeng_t2v_v30", "prompt": "x" * 801}, 50200, "prompt"),
        ({"req_key": "jimeng_vgfm_t2v_l20", "prompt": "x" * 151}, 50200, "prompt"),
        ({"req_key": "jimeng_vgfm_t2v_l20", "prompt": "x", "frames": 121}, 50200, "frames"),
        ({"req_key": "jimeng_t2v_v30", "prompt": "x", "seed": "7"}, 50200, "seed"),
        ({"req_key": "jimeng_i2v_first_v30", "prompt": "x"}, 50201, "binary_data_base64"),
        ({"req_key": "jimeng_i2v_first_v30", "aspect_ratio": "16:9"}, 50200, "aspect_ratio"),
        ({"req_key": "jimeng_nope"}, 50200, "req_key"),
        ({"prompt": "x"}, 50201, "req_key"),
    ],
    ids=lambda v: v if isinstance(v, str | int) else None,
)
def test_body_is_validated_per_req_key(emulator, body: dict, code: int, field: str) -> None:
    error = _refusal(emulator.volcengine(), body)
    assert error.code == code and error.http_status == 400
    assert field in error.message
    assert emulator.store.tasks() == []


def test_image_limits_and_counts_are_checked(emulator) -> None:
    client = emulator.volcengine()
    small = _b64(images.solid(300, 300))
    error = _refusal(client, {"req_key": "jimeng_i2v_first_v30", "binary_data_base64": [small]})
    assert (
        error.code == 50200 and "binary_data_base64[0]" in error.message and "320" in error.message
    )
    good = _b64(images.solid(1280, 720))
    error = _refusal(client, {"req_key": "jimeng_i2v_first_tail_v30", "binary_data_base64": [good]})
    assert error.code == 50200 and "2 image" in error.message
    portrait = _b64(images.solid(720, 1280))
    error = _refusal(
        client, {"req_key": "jimeng_i2v_first_tail_v30", "binary_data_base64": [good, portrait]}
    )
    assert "same aspect ratio" in error.message
    webp = _b64(images.solid(800, 600, fmt="WEBP"))
    error = _refusal(client, {"req_key": "jimeng_i2v_first_v30", "binary_data_base64": [webp]})
    assert "JPEG or PNG" in error.message
    both = {
        "req_key": "jimeng_i2v_first_v30",
        "binary_data_base64": [good],
        "image_urls": ["http://127.0.0.1/x"],
    }
    assert "not both" in _refusal(client, both).message


def test_recamera_fields_are_checked(emulator) -> None:
    client = emulator.volcengine()
    image = _b64(images.solid(1280, 720))
    body = {"req_key": "jimeng_i2v_recamera_v30", "binary_data_base64": [image]}
    assert _refusal(client, body).code == 50201  # template_id missing
    assert "template_id" in _refusal(client, {**body, "template_id": "zoom"}).message
    strength = _refusal(client, {**body, "template_id": "robo_arm", "camera_strength": "max"})
    assert "camera_strength" in strength.message
    assert client.submit({**body, "template_id": "robo_arm", "camera_strength": "strong"}).task_id


def test_status_moves_from_queue_to_done(emulator, settings) -> None:
    settings.SANDBOX_GENERATION_SECONDS = 1.5
    client = emulator.volcengine()
    task = client.submit({"req_key": "jimeng_t2v_v30", "prompt": "statuses"}).task_id
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = client.get_result(task_id=task, req_key="jimeng_t2v_v30").status
        if not seen or seen[-1] != status:
            seen.append(status)
        if status.is_final:
            break
        time.sleep(0.05)
    assert seen == [TaskStatus.IN_QUEUE, TaskStatus.GENERATING, TaskStatus.DONE]


def test_unknown_or_mismatched_task_is_not_found(emulator) -> None:
    client = emulator.volcengine()
    assert client.get_result(task_id="123", req_key="jimeng_t2v_v30").status == TaskStatus.NOT_FOUND
    task = client.submit({"req_key": "jimeng_t2v_v30", "prompt": "x"}).task_id
    assert (
        client.get_result(task_id=task, req_key="jimeng_t2v_v30_1080p").status
        == TaskStatus.NOT_FOUND
    )


def test_qps_limit_answers_50429(emulator, settings) -> None:
    settings.SANDBOX_QPS = 3
    client = emulator.volcengine()
    outcomes = []
    for _ in range(8):
        try:
            client.get_result(task_id="1", req_key="jimeng_t2v_v30")
            outcomes.append("ok")
        except JimengError as error:
            outcomes.append(error.code)
    assert outcomes.count("ok") == 3 and outcomes.count(50429) == 5


def test_concurrency_limit_answers_50430(emulator, settings) -> None:
    settings.SANDBOX_CONCURRENCY = 1
    settings.SANDBOX_GENERATION_SECONDS = 5
    client = emulator.volcengine()
    client.submit({"req_key": "jimeng_t2v_v30", "prompt": "first"})
    error = _refusal(client, {"req_key": "jimeng_t2v_v30", "prompt": "second"})
    assert (error.code, error.http_status, error.transient) == (50430, 429, True)


@pytest.mark.parametrize(
    ("req_key", "extra", "size", "frames"),
    [
        ("jimeng_t2v_v30", {"aspect_ratio": "9:16"}, (720, 1280), 121),
        ("jimeng_t2v_v30_1080p", {"aspect_ratio": "21:9", "frames": 241}, (2176, 928), 241),
        ("jimeng_vgfm_t2v_l20", {"aspect_ratio": "9:21"}, (720, 1680), 121),
    ],
)
def test_result_is_a_real_faststart_h264_mp4(
    emulator, tmp_path, req_key, extra, size, frames
) -> None:
    client = emulator.volcengine()
    task = client.submit({"req_key": req_key, "prompt": "一只猫 a cat", **extra}).task_id
    result = _wait(client, task, req_key)
    assert result.status == TaskStatus.DONE and result.video_url
    data = requests.get(result.video_url, timeout=10).content
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: index first
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == size
        assert stream.frames == frames and stream.average_rate == 24


def test_image_modes_are_built_from_the_uploaded_frames(emulator, tmp_path) -> None:
    client = emulator.volcengine()
    red = _b64(images.solid(1280, 720, (220, 20, 20)))
    blue = _b64(images.solid(1280, 720, (20, 20, 220)))
    body = {
        "req_key": "jimeng_i2v_first_tail_v30",
        "binary_data_base64": [red, blue],
        "prompt": "fade",
    }
    result = _wait(client, client.submit(body).task_id, body["req_key"])
    path = tmp_path / "v.mp4"
    path.write_bytes(requests.get(result.video_url, timeout=10).content)
    with av.open(str(path)) as container:
        decoded = [frame.to_image() for frame in container.decode(video=0)]
    first, last = decoded[0].getpixel((640, 300)), decoded[-1].getpixel((640, 300))
    assert first[0] > 150 and first[2] < 90
    assert last[2] > 150 and last[0] < 90


def test_video_url_really_expires(emulator, settings) -> None:
    settings.SANDBOX_URL_TTL_SECONDS = 0.5
    client = emulator.volcengine()
    result = _wait(
        client,
        client.submit({"req_key": "jimeng_t2v_v30", "prompt": "x"}).task_id,
        "jimeng_t2v_v30",
    )
    time.sleep(1.0)
    answer = requests.get(result.video_url, timeout=5)
    assert answer.status_code == 403 and b"expired" in answer.content
    tampered = result.video_url.replace("expires=", "expires=9")
    assert requests.get(tampered, timeout=5).status_code == 403


def test_risk_markers(emulator) -> None:
    client = emulator.volcengine()
    error = _refusal(client, {"req_key": "jimeng_t2v_v30", "prompt": "bad [risk:text]"})
    assert (error.code, error.http_status, error.transient) == (50412, 400, False)
    task = client.submit({"req_key": "jimeng_t2v_v30", "prompt": "bad [risk:video]"}).task_id
    result = _wait(client, task, "jimeng_t2v_v30")
    assert result.status == TaskStatus.FAILED and result.failure_code == 50516


def test_aigc_meta_is_acknowledged(emulator) -> None:
    client = emulator.volcengine()
    task = client.submit({"req_key": "jimeng_t2v_v30", "prompt": "x"}).task_id
    _wait(client, task, "jimeng_t2v_v30")
    tagged = client.get_result(
        task_id=task, req_key="jimeng_t2v_v30", req_json='{"aigc_meta":{"producer_id":"studio"}}'
    )
    assert tagged.aigc_meta_tagged is True
    assert client.get_result(task_id=task, req_key="jimeng_t2v_v30").aigc_meta_tagged is False


@pytest.mark.parametrize(
    ("setting", "code", "status"),
    [("SANDBOX_FAULT_50429", 50429, 429), ("SANDBOX_FAULT_50500", 50500, 500)],
)
def test_fault_rates_inject_business_errors(emulator, settings, setting, code, status) -> None:
    setattr(settings, setting, 1.0)
    error = _refusal(emulator.volcengine(), {"req_key": "jimeng_t2v_v30", "prompt": "x"})
    assert (error.code, error.http_status, error.transient) == (code, status, True)
    assert emulator.store.tasks() == []


def test_dropped_connection_fault(emulator, settings) -> None:
    settings.SANDBOX_FAULT_DROP = 1.0
    with pytest.raises(JimengError) as caught:
        emulator.volcengine().get_result(task_id="1", req_key="jimeng_t2v_v30")
    assert caught.value.kind == ErrorKind.NETWORK and caught.value.transient


def test_slow_fault_exceeds_the_client_timeout(emulator, settings) -> None:
    settings.SANDBOX_FAULT_SLOW = 1.0
    settings.SANDBOX_SLOW_SECONDS = 1.0
    settings.SANDBOX_FAULT_ACTIONS = ["query"]
    with pytest.raises(JimengError) as caught:
        emulator.volcengine(query_timeout=0.3).get_result(task_id="1", req_key="jimeng_t2v_v30")
    assert caught.value.kind == ErrorKind.TIMEOUT


def test_scripted_faults_follow_the_prompt(emulator) -> None:
    client = emulator.volcengine()
    req = "jimeng_t2v_v30"
    task = client.submit({"req_key": req, "prompt": "x [sandbox:faults=50500,50429]"}).task_id
    codes = []
    for _ in range(3):
        try:
            client.get_result(task_id=task, req_key=req)
            codes.append("ok")
        except JimengError as error:
            codes.append(error.code)
    assert codes == [50500, 50429, "ok"]


def test_gateway_api(emulator, tmp_path) -> None:
    gateway = emulator.gateway()
    submitted = gateway.submit(
        {
            "model": "doubao-seedance-1-0-lite-t2v-250428",
            "prompt": "sea",
            "duration": 3,
            "resolution": "480p",
            "size": "1:1",
        }
    )
    assert submitted.task_id.startswith("cgt-")
    deadline = time.monotonic() + 10
    while (result := gateway.get_result(task_id=submitted.task_id)).status != TaskStatus.DONE:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    path = tmp_path / "g.mp4"
    path.write_bytes(requests.get(result.video_url, timeout=10).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height, stream.frames) == (
            640,
            640,
            73,
        )
    assert gateway.get_result(task_id="cgt-missing").status == TaskStatus.NOT_FOUND
    with pytest.raises(JimengError) as caught:
        emulator.gateway(api_key="wrong").submit({"model": "x"})
    assert caught.value.http_status == 401 and caught.value.is_auth
    with pytest.raises(JimengError) as caught:
        gateway.submit({"model": "doubao-seedance-1-5-pro", "prompt": "x", "duration": 3})
    assert "4-12" in caught.value.message


def test_sandbox_can_be_switched_off(settings) -> None:
    import jimeng_web.urls

    settings.SANDBOX_ENABLED = False
    try:
        importlib.reload(jimeng_web.urls)
        clear_url_caches()
        with pytest.raises(Resolver404):
            resolve("/sandbox/volcengine/", urlconf=jimeng_web.urls)
    finally:
        settings.SANDBOX_ENABLED = True
        importlib.reload(jimeng_web.urls)
        clear_url_caches()
    assert resolve("/sandbox/volcengine/", urlconf=jimeng_web.urls).url_name == "volcengine"


def test_markers_are_directives_not_content(emulator) -> None:
    """Jobs that differ only in `[sandbox:…]` markers draw the same words, so they share
    one render; the markers still steer the emulator (here: the generation time)."""
    client = emulator.volcengine()
    req = "jimeng_t2v_v30"
    quick = client.submit({"req_key": req, "prompt": "a kite [sandbox:seconds=0.2]"}).task_id
    slow = client.submit({"req_key": req, "prompt": "a kite [sandbox:seconds=3]"}).task_id
    assert _wait(client, quick, req).status == TaskStatus.DONE
    assert client.get_result(task_id=slow, req_key=req).status != TaskStatus.DONE
    tasks = {task.id: task for task in emulator.store.tasks()}
    assert tasks[quick].render_key == tasks[slow].render_key
    assert tasks[slow].ready_at - tasks[quick].ready_at > 2
    assert "[sandbox" in tasks[slow].prompt  # kept for the scripted faults


def test_the_first_calls_of_a_new_store_arrive_together_and_all_count(tmp_path) -> None:
    """A threaded server's first requests each opened the store and rebuilt its tables;
    one rebuild dropped the tables another request was using (a submit answered 500)."""
    from sandbox.store import Store

    for attempt in range(5):
        store = Store(tmp_path / f"fresh-{attempt}")
        failures = _first_calls_at_once(store, 8)
        assert failures == []
        assert len(store.calls("submit")) == 8


def _first_calls_at_once(store, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    import threading

    start, failures = threading.Barrier(count), []

    def call() -> None:
        start.wait()
        try:
            call_id = store.admit(api="v", action="submit", access_key="AK", qps=0)
            assert call_id is not None
            store.record_outcome(call_id, http_status=200, code=10000)
        except Exception as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures
