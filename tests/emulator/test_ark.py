"""The Ark emulator and ArkClient together, over real HTTP (docs/upstream/ark.md)."""

from __future__ import annotations

import base64
import io
import time

import av
import pytest
import requests
from PIL import Image

from generations.jimeng.client import ArkClient, TaskResult, TaskStatus
from generations.jimeng.errors import ErrorKind, JimengError
from tests import images

MODEL_20 = "doubao-seedance-2-0-260128"
MODEL_15 = "doubao-seedance-1-5-pro-251215"
MODEL_10 = "doubao-seedance-1-0-pro-250528"


def _text(prompt: str) -> list[dict]:
    return [{"type": "text", "text": prompt}]


def _data_url(data: bytes, fmt: str = "jpeg") -> str:
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode()}"


def _wait(client: ArkClient, task_id: str, timeout: float = 20.0) -> TaskResult:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = client.get_result(task_id=task_id)
        if result.status.is_final:
            return result
        time.sleep(0.1)
    pytest.fail(f"task {task_id} did not finish")


def _refusal(client: ArkClient, body: dict) -> JimengError:
    with pytest.raises(JimengError) as caught:
        client.submit(body)
    return caught.value


def _video(url: str) -> tuple[int, int, int, bool]:
    data = requests.get(url, timeout=10).content
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.width, stream.height, frames, bool(container.streams.audio)


def test_a_task_runs_queued_to_succeeded_with_usage_and_last_frame(emulator) -> None:
    client = emulator.ark()
    created = client.submit(
        {
            "model": MODEL_20,
            "content": _text("a paper lantern drifting"),
            "resolution": "720p",
            "ratio": "16:9",
            "duration": 5,
            "return_last_frame": True,
        }
    )
    assert created.task_id.startswith("cgt-")
    first = client.get_result(task_id=created.task_id)
    assert first.status == TaskStatus.IN_QUEUE
    done = _wait(client, created.task_id)
    assert done.status == TaskStatus.DONE and done.seconds == 5
    assert done.completion_tokens == 1280 * 720 * 121 // 1024 == 108_900
    assert _video(done.video_url) == (1280, 720, 121, False)
    frame = Image.open(io.BytesIO(requests.get(done.last_frame_url, timeout=10).content))
    assert frame.format == "PNG" and frame.size == (1280, 720)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "doubao-seedance-9-9"}, 404, "InvalidEndpointOrModel.NotFound"),
        ({"model": MODEL_20, "seed": 7}, 400, "InvalidParameter.seed"),
        ({"model": MODEL_20, "draft": True}, 400, "InvalidParameter.draft"),
        ({"model": MODEL_10, "duration": 13}, 400, "InvalidParameter.duration"),
        ({"model": MODEL_10, "duration": -1}, 400, "InvalidParameter.duration"),
        ({"model": MODEL_10, "ratio": "adaptive"}, 400, "InvalidParameter.ratio"),
        ({"model": MODEL_10, "generate_audio": True}, 400, "InvalidParameter.generate_audio"),
        ({"model": MODEL_15, "draft": True, "resolution": "720p"}, 400,
         "InvalidParameter.resolution"),
        (
            {"model": MODEL_15, "draft": True, "return_last_frame": True},
            400,
            "InvalidParameter.return_last_frame",
        ),
        ({"model": "doubao-seedance-2-0-fast-260128", "resolution": "1080p"}, 400,
         "InvalidParameter.resolution"),
        ({"model": MODEL_20, "content": []}, 400, "MissingParameter.content"),
        ({"model": MODEL_20, "content": _text("a") * 2}, 400, "InvalidParameter.content"),
        ({"model": MODEL_20, "callback_url": "http://elsewhere.example/hook"}, 400,
         "InvalidParameter.callback_url"),
    ],
)  # fmt: skip
def test_bodies_are_checked_per_model(emulator, body, status, code) -> None:
    error = _refusal(emulator.ark(), {"content": _text("a kite"), **body})
    assert (error.http_status, error.code) == (status, code)
    assert not error.transient and emulator.store.tasks() == []


def test_image_roles_follow_the_model(emulator) -> None:
    client = emulator.ark()
    frame = _data_url(images.solid(1280, 720))
    first = {"type": "image_url", "image_url": {"url": frame}, "role": "first_frame"}
    last = {**first, "role": "last_frame"}
    reference = {**first, "role": "reference_image"}
    assert client.submit({"model": MODEL_10, "content": [first, last]}).task_id
    refused = _refusal(client, {"model": MODEL_10, "content": [reference]})
    assert refused.code == "InvalidParameter.content" and "reference" in refused.message
    fast = "doubao-seedance-1-0-pro-fast-251015"
    assert _refusal(client, {"model": fast, "content": [first, last]}).code.endswith("content")
    lite = "doubao-seedance-1-0-lite-i2v-250428"
    assert client.submit({"model": lite, "content": [reference] * 4}).task_id
    assert "at most 4" in _refusal(client, {"model": lite, "content": [reference] * 5}).message
    small = {**first, "image_url": {"url": _data_url(images.solid(280, 400))}}
    assert "300" in _refusal(client, {"model": MODEL_20, "content": [small]}).message


def test_text_risk_is_refused_and_video_risk_fails_the_task(emulator) -> None:
    client = emulator.ark()
    refused = _refusal(client, {"model": MODEL_20, "content": _text("x [risk:text]")})
    assert refused.code == "InputTextSensitiveContentDetected" and refused.http_status == 400
    created = client.submit({"model": MODEL_20, "content": _text("x [risk:video]")})
    failed = _wait(client, created.task_id)
    assert failed.status == TaskStatus.FAILED
    assert failed.failure_code == "OutputVideoSensitiveContentDetected"


def test_delete_cancels_queued_deletes_finished_and_refuses_running(emulator, settings) -> None:
    settings.SANDBOX_GENERATION_SECONDS = 3.0
    client = emulator.ark()
    queued = client.submit({"model": MODEL_20, "content": _text("cancel me")}).task_id
    client.cancel(queued)
    assert client.get_result(task_id=queued).failure_code == "cancelled"
    running = client.submit({"model": MODEL_20, "content": _text("let me run")}).task_id
    time.sleep(0.8)  # past the first fifth of its time: running
    with pytest.raises(JimengError) as caught:
        client.cancel(running)
    assert caught.value.http_status == 403 and not caught.value.transient
    settings.SANDBOX_GENERATION_SECONDS = 0.3
    finished = client.submit({"model": MODEL_20, "content": _text("done soon")}).task_id
    _wait(client, finished)
    client.cancel(finished)
    assert client.get_result(task_id=finished).status == TaskStatus.NOT_FOUND


def test_list_filters_pages_and_finds_a_task_by_its_identifier(emulator) -> None:
    client = emulator.ark()
    ids = []
    for number in range(3):
        body = {
            "model": MODEL_20 if number < 2 else MODEL_15,
            "content": _text(f"listed {number}"),
            "safety_identifier": f"job-{number}",
        }
        ids.append(client.submit(body).task_id)
    newest_first = client.list_tasks(model=MODEL_20)
    assert [item.id for item in newest_first] == [ids[1], ids[0]]
    assert client.list_tasks(model=MODEL_20, page_num=2, page_size=1)[0].id == ids[0]
    raw = requests.get(
        emulator.ark_url + "/contents/generations/tasks",
        params={"filter.task_ids": [ids[0], ids[2]]},
        headers={"Authorization": "Bearer ark-sandbox-api-key"},
        timeout=5,
    ).json()
    assert {item["id"] for item in raw["items"]} == {ids[0], ids[2]} and raw["total"] == 2
    started = time.time() - 60
    assert client.find(model=MODEL_20, safety_identifier="job-1", since=started) == ids[1]
    assert client.find(model=MODEL_20, safety_identifier="job-2", since=started) is None


def test_bursts_answer_429_and_a_get_429_is_transient(emulator, settings) -> None:
    settings.SANDBOX_QPS = 2
    client = emulator.ark()
    for number in range(2):
        client.submit({"model": MODEL_20, "content": _text(f"burst {number}")})
    error = _refusal(client, {"model": MODEL_20, "content": _text("one too many")})
    assert error.http_status == 429 and error.transient and error.is_busy
    assert error.code == "RequestBurstTooFast"


def test_a_wrong_key_is_an_authentication_error(emulator) -> None:
    error = _refusal(emulator.ark(api_key="wrong"), {"model": MODEL_20, "content": _text("a")})
    assert error.http_status == 401 and error.is_auth and error.code == "AuthenticationError"
    assert error.kind == ErrorKind.GATEWAY


def test_sound_when_asked_and_the_model_picks_the_length(emulator) -> None:
    client = emulator.ark()
    body = {"model": MODEL_15, "content": _text("rain"), "generate_audio": True, "duration": -1}
    done = _wait(client, client.submit(body).task_id)
    assert done.seconds == 5  # the emulator's model picks five seconds
    assert _video(done.video_url)[3] is True


def test_a_draft_then_its_final(emulator) -> None:
    client = emulator.ark()
    draft = client.submit(
        {"model": MODEL_15, "content": _text("a fox in snow"), "draft": True, "ratio": "9:16"}
    ).task_id
    drafted = _wait(client, draft)
    assert _video(drafted.video_url)[:2] == (496, 864)
    final_body = {
        "model": MODEL_15,
        "content": [{"type": "draft_task", "draft_task": {"id": draft}}],
        "resolution": "720p",
    }
    final = _wait(client, client.submit(final_body).task_id)
    assert _video(final.video_url)[:2] == (720, 1280)
    assert final.raw["draft_task_id"] == draft
    wrong = {**final_body, "model": MODEL_20}
    assert _refusal(client, wrong).code == "InvalidParameter.content"
