"""The emulator as a public endpoint: off in production (and a warning when turned on),
images checked before they are decoded, nothing downloaded, slow answers and renders
bounded."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from generations.jimeng.errors import JimengError
from sandbox.tasks import drain_renders
from tests import images
from tests.local_http import local_server
from tests.paths import ROOT

pytestmark = pytest.mark.security


def _settings_of(**environment: str) -> dict[str, object]:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.SANDBOX_ENABLED, s.SANDBOX_URL]))"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
        "SECRET_KEY": "k" * 60,
        "CREDENTIALS_KEYS": "eXLtq9k1oDHNbYpbQPx3bg9JkQmlv2M5Zx1s1lM8b0A=",
        **environment,
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    debug, enabled, url = json.loads(out.stdout)
    return {"debug": debug, "enabled": enabled, "url": url}


def test_the_emulator_is_off_in_production_and_warns_when_turned_on(tmp_path: Path) -> None:
    data = {"DATA_DIR": str(tmp_path)}
    assert _settings_of(DEBUG="false", **data) == {"debug": False, "enabled": False, "url": ""}
    assert _settings_of(DEBUG="true", **data)["enabled"] is True
    env = {
        **os.environ,
        **data,
        "DEBUG": "false",
        "SANDBOX_ENABLED": "true",
        "SECRET_KEY": "k" * 60,
        "CREDENTIALS_KEYS": "eXLtq9k1oDHNbYpbQPx3bg9JkQmlv2M5Zx1s1lM8b0A=",
    }
    check = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "jimeng.W001" in check.stderr + check.stdout
    makefile = (ROOT / "Makefile").read_text()
    production = makefile.split("PROD_ENV =", 1)[1].split("\n\n", 1)[0]
    assert "SANDBOX_ENABLED" not in production.replace("SANDBOX_ENABLED=true turns", "")


def test_a_huge_declared_image_is_refused_before_it_is_decoded(emulator) -> None:
    """13300 × 13300 declared in a few kB: checked from the header, before any pixel is
    decoded. The data after the first rows is spoiled: had the pixels been decoded
    first, the answer would call the file unreadable instead of naming its size."""
    bomb = base64.b64encode(images.png_bomb(13300, 13300, broken=True)).decode()
    client = emulator.gateway()
    body = {"model": "doubao-seedance-1-0-pro-250528", "prompt": "p", "images": [bomb]}
    with pytest.raises(JimengError) as caught:
        client.submit(body)
    assert caught.value.http_status == 400 and "13300x13300" in caught.value.message
    volcengine = emulator.volcengine()
    with pytest.raises(JimengError) as caught:
        volcengine.submit({"req_key": "jimeng_i2v_first_v30", "binary_data_base64": [bomb]})
    assert caught.value.code == 50200 and "13300x13300" in caught.value.message


def test_checking_a_complete_image_bomb_takes_no_memory(tmp_path: Path) -> None:
    """The attack itself: a complete 0.17 MB PNG of 13300 × 13300 took the checking
    process up by 700 MB. In a fresh process, its peak now stays near its start."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(images.png_bomb(13300, 13300, rows=13300))
    code = (
        "import resource, sys; from sandbox.validate import Refusal, check_image\n"
        "start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    check_image(open(sys.argv[1], 'rb').read(), 'x')\n"
        "except Refusal as refusal:\n    print(refusal.message)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) // 1024)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "jimeng_web.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(bomb)], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert "13300x13300" in out[0]
    assert int(out[1]) < 50, f"checking the bomb grew the process by {out[1]} MB"


def test_image_urls_are_never_downloaded_by_the_emulator(emulator) -> None:
    with local_server() as internal:
        with pytest.raises(JimengError) as caught:
            emulator.volcengine().submit(
                {"req_key": "jimeng_i2v_first_v30", "image_urls": [f"{internal.url}/a.jpg"]}
            )
        assert caught.value.code == 50200 and "sample images" in caught.value.message
        gateway = {
            "model": "doubao-seedance-1-0-pro-250528",
            "prompt": "p",
            "images": [f"{internal.url}/b.png"],
        }
        with pytest.raises(JimengError):
            emulator.gateway().submit(gateway)
        assert internal.hits == []
    sample = f"{emulator.base_url}/sandbox/samples/portrait.jpg"
    accepted = emulator.volcengine().submit(
        {"req_key": "jimeng_i2v_first_v30", "image_urls": [sample]}
    )
    assert accepted.task_id


def test_slow_faults_tie_up_one_worker_at_most(emulator, settings) -> None:
    settings.SANDBOX_SLOW_SECONDS = 1.5
    settings.SANDBOX_MAX_SLOW_ANSWERS = 1
    outcomes: list[object] = []

    def submit(number: int) -> None:
        body = {"req_key": "jimeng_t2v_v30", "prompt": f"{number} [sandbox:submit-faults=slow]"}
        try:
            outcomes.append(emulator.volcengine().submit(body).task_id)
        except JimengError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes, key=str).count(50429) == 1, outcomes
    assert sum(isinstance(outcome, str) for outcome in outcomes) == 1


def test_the_render_queue_is_bounded(emulator, settings) -> None:
    drain_renders()  # renders of earlier tests share this process
    settings.SANDBOX_RENDER_QUEUE = 1
    client = emulator.volcengine()
    long = {"req_key": "jimeng_t2v_v30_1080p", "prompt": "a long render", "frames": 241}
    assert client.submit(long).task_id
    with pytest.raises(JimengError) as caught:
        client.submit({"req_key": "jimeng_t2v_v30", "prompt": "another"})
    assert caught.value.code == 50430
