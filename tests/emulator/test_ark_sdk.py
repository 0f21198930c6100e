"""The vendor's own Ark SDK drives the emulator: its shapes are the contract's
(docs/upstream/ark.md). The studio does not use the SDK; this is the oracle."""

from __future__ import annotations

import time

import pytest
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._exceptions import ArkAPIError

from tests.conftest import SANDBOX_ARK_KEY

MODEL = "doubao-seedance-2-0-260128"


@pytest.fixture
def sdk(emulator) -> Ark:  # type: ignore[no-untyped-def]
    return Ark(base_url=emulator.ark_url, api_key=SANDBOX_ARK_KEY, max_retries=0, timeout=10)


def test_the_sdk_creates_gets_lists_and_deletes(sdk: Ark) -> None:
    created = sdk.content_generation.tasks.create(
        model=MODEL,
        content=[{"type": "text", "text": "a red kite over the sea"}],
        ratio="9:16",
        resolution="480p",
        duration=4,
        generate_audio=True,
        return_last_frame=True,
        safety_identifier="sdk-user-1",
    )
    deadline = time.monotonic() + 20
    task = sdk.content_generation.tasks.get(task_id=created.id)
    while task.status != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.1)
        task = sdk.content_generation.tasks.get(task_id=created.id)
    assert task.status == "succeeded" and task.model == MODEL
    assert (task.ratio, task.resolution, task.duration) == ("9:16", "480p", 4)
    assert task.framespersecond == 24 and task.generate_audio is True
    assert task.content.video_url.startswith("http")
    assert "-last.png?expires=" in task.content.last_frame_url
    assert task.usage.completion_tokens == 496 * 864 * 97 // 1024
    assert task.safety_identifier == "sdk-user-1"
    listed = sdk.content_generation.tasks.list(model=MODEL, page_size=10)
    assert listed.total == 1 and listed.items[0].id == created.id
    sdk.content_generation.tasks.delete(created.id)
    with pytest.raises(ArkAPIError) as caught:
        sdk.content_generation.tasks.get(task_id=created.id)
    assert caught.value.status_code == 404


def test_the_sdk_reads_our_error_envelope(sdk: Ark) -> None:
    with pytest.raises(ArkAPIError) as caught:
        sdk.content_generation.tasks.create(model=MODEL, content=[], seed=3)
    error = caught.value
    assert error.status_code == 400 and error.code == "MissingParameter.content"
    assert "Request ID" in str(error)


def test_the_sdk_cancels_a_queued_task(sdk: Ark, settings) -> None:
    settings.SANDBOX_GENERATION_SECONDS = 5.0
    created = sdk.content_generation.tasks.create(
        model=MODEL, content=[{"type": "text", "text": "cancel me"}]
    )
    sdk.content_generation.tasks.delete(created.id)
    assert sdk.content_generation.tasks.get(task_id=created.id).status == "cancelled"
