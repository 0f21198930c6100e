"""An external client of the OpenAI-style endpoint, written with plain `requests` exactly
as the gateway's documentation shows it (its curl and Python examples), pointed at the
studio over real HTTP. The studio's own pipeline makes the videos on the emulator."""

from __future__ import annotations

import base64
import io
import time
from decimal import Decimal

import av
import pytest
import requests

from generations.models import EntryKind, Generation, LedgerEntry, Status
from generations.services import pipeline
from tests import images
from tests.api_client import token_for
from tests.cast import add_credential
from tests.conftest import SANDBOX_GATEWAY_KEY
from tests.pipeline import FAST_PIPELINE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def studio(cast, emulator, settings, live_server):  # type: ignore[no-untyped-def]
    """Team A with a Volcengine key and a gateway key on the emulator."""
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    add_credential(cast.team, emulator.volcengine_url)
    add_credential(
        cast.team,
        emulator.gateway_url,
        access_key="",
        secret=SANDBOX_GATEWAY_KEY,
        kind="gateway",
        default=False,
        label="Gateway",
    )
    return live_server.url


def _wait(url: str, headers: dict[str, str], timeout: float = 30.0) -> dict:  # type: ignore[type-arg]
    """Poll as a gateway client does, while the studio's pipeline runs in this process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.dispatch_round("test")
        for job in Generation.objects.filter(status=Status.DOWNLOADING):
            pipeline.archive(job.pk)
        result = requests.get(url, headers=headers, timeout=10).json()
        if result["status"] in ("succeeded", "failed"):
            return result
        time.sleep(0.1)
    raise AssertionError(f"still {result['status']} after {timeout} s")


def _probe(url: str) -> tuple[int, int, float]:
    video = requests.get(url, timeout=10)  # the link needs no key: it is signed
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, float(container.duration or 0) / 1_000_000


def test_the_gateways_curl_example_text_to_video(cast, studio) -> None:
    token = token_for(cast, "member")
    # curl -X POST https://api.omnimaas.com/v1/video/generations \
    #   -H "Authorization: Bearer YOUR_API_KEY" -H "Content-Type: application/json" \
    #   -d '{"model": "doubao-seedance-1-0-pro-250528", "prompt": "一只可爱的小猫在草地上玩耍",
    #        "duration": 5, "resolution": "720p"}'
    response = requests.post(
        f"{studio}/v1/video/generations",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        json={
            "model": "doubao-seedance-1-0-pro-250528",
            "prompt": "一只可爱的小猫在草地上玩耍",
            "duration": 5,
            "resolution": "720p",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] == created["task_id"]
    assert created["object"] == "video" and created["status"] == "queued"
    assert created["model"] == "doubao-seedance-1-0-pro-250528" and created["progress"] == 0
    assert isinstance(created["created_at"], int)

    # curl https://api.omnimaas.com/v1/video/generations/video_123 \
    #   -H "Authorization: Bearer YOUR_API_KEY"
    result = _wait(
        f"{studio}/v1/video/generations/{created['id']}", {"Authorization": f"Bearer {token}"}
    )
    assert result["status"] == "succeeded" and result["progress"] == 100, result
    assert _probe(result["url"])[:2] == (1280, 720)

    # The job is the team's like any other: in the gallery, charged, by its member.
    job = Generation.objects.get(pk=int(created["id"]))
    assert job.mode == "doubao-seedance-1-0-pro-250528" and job.created_by == cast.member
    assert job.credential.kind == "gateway"
    settled = LedgerEntry.objects.get(generation=job, kind=EntryKind.SETTLE)
    assert settled.amount_cny == job.cost_cny > Decimal("0")


def test_the_gateways_python_example_with_a_jimeng_model(cast, studio) -> None:
    api_key = token_for(cast, "member")
    # The documentation's Python sample, with the studio's address and a studio token.
    url = f"{studio}/v1/videos"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    data = {"model": "jimeng-1.0", "prompt": "夕阳下的海滩，海浪轻轻拍打着沙滩"}
    response = requests.post(url, headers=headers, json=data, timeout=10)
    result = response.json()
    assert result["id"] and result["status"] == "queued"

    done = _wait(f"{studio}/v1/videos/{result['id']}", headers)
    assert done["status"] == "succeeded" and done["model"] == "jimeng_t2v_v30"
    assert Generation.objects.get(pk=int(result["id"])).mode == "t2v_720p"


def test_image_to_video_with_base64_images(cast, studio) -> None:
    token = token_for(cast, "member")
    frame = base64.b64encode(images.solid(1280, 720, (200, 40, 40))).decode()
    response = requests.post(
        f"{studio}/v1/video/generations",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "model": "jimeng-1.0",
            "prompt": "让这张图片动起来，添加自然的运动效果",
            "images": [frame],
            "duration": 5,
            "metadata": '{"seed": 1234, "watermark": true}',
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    job = Generation.objects.get(pk=int(response.json()["id"]))
    assert job.mode == "i2v_first_720p" and job.seed == 1234 and job.images.count() == 1
    done = _wait(f"{studio}/v1/video/generations/{job.pk}", {"Authorization": f"Bearer {token}"})
    assert done["status"] == "succeeded"


def test_errors_come_in_the_gateways_shape(cast, studio) -> None:
    member = {"Authorization": f"Bearer {token_for(cast, 'member')}"}
    cases = [
        ({}, {"model": "doubao-seedance-1-0-pro-250528", "prompt": "x"}, 401, "invalid_api_key"),
        (member, {"model": "sora-2", "prompt": "x"}, 404, "not_found"),
        (member, {"model": "jimeng-1.0", "prompt": "x", "duration": 7}, 400, "invalid_request"),
        (member, {"prompt": "no model"}, 400, "invalid_body"),
        (member, {"model": "jimeng-1.0", "prompt": "x", "metadata": "{seed"}, 400, None),
        (
            {"Authorization": f"Bearer {token_for(cast, 'viewer')}"},
            {"model": "jimeng-1.0", "prompt": "x"},
            403,
            "forbidden",
        ),
    ]
    for headers, body, status, code in cases:
        answer = requests.post(
            f"{studio}/v1/video/generations", headers=headers, json=body, timeout=10
        )
        assert answer.status_code == status, (body, answer.text)
        error = answer.json()["error"]
        assert error["message"] and error["type"]
        if code:
            assert error["code"] == code, error
    assert not Generation.objects.exists()
    missing = requests.get(f"{studio}/v1/video/generations/999999", headers=member, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"

    cast.team.quota_cny = Decimal("1.00")
    cast.team.save()
    broke = requests.post(
        f"{studio}/v1/video/generations",
        headers=member,
        json={"model": "jimeng-1.0", "prompt": "x"},
        timeout=10,
    )
    assert broke.status_code == 402 and broke.json()["error"]["type"] == "insufficient_quota"
