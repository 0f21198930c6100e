"""`manage.py generate_video` end to end against the emulator, over real HTTP."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from generations.jimeng.catalog import MODES
from generations.jimeng.probe import probe
from tests import images
from tests.conftest import SANDBOX_AK, SANDBOX_ARK_KEY, SANDBOX_GATEWAY_KEY, SANDBOX_SK
from tests.paths import ROOT


@pytest.fixture
def cli_env(emulator, monkeypatch) -> dict[str, str]:
    env = {
        "VOLC_ACCESSKEY": SANDBOX_AK,
        "VOLC_SECRETKEY": SANDBOX_SK,
        "JIMENG_VIDEO_API_URL": emulator.volcengine_url,
        "JIMENG_GATEWAY_API_URL": emulator.gateway_url,
        "JIMENG_GATEWAY_API_KEY": SANDBOX_GATEWAY_KEY,
        "ARK_API_URL": emulator.ark_url,
        "ARK_API_KEY": SANDBOX_ARK_KEY,
        "JIMENG_VIDEO_POLL_INTERVAL": "0.2",
        "JIMENG_VIDEO_API_TIMEOUT": "5",
        "JIMENG_VIDEO_MAX_POLL_ATTEMPTS": "100",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def frames(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "first": tmp_path / "first.jpg",
        "tail": tmp_path / "tail.png",
        "tall": tmp_path / "tall.jpg",
        "portrait": tmp_path / "portrait.jpg",
        "wide": tmp_path / "wide.jpg",
    }
    paths["wide"].write_bytes(images.solid(1400, 500))  # 2.8: Jimeng takes it, Ark does not
    paths["first"].write_bytes(images.solid(1280, 720, (220, 30, 30)))
    paths["tail"].write_bytes(images.solid(1280, 720, (30, 30, 220), fmt="PNG"))
    paths["tall"].write_bytes(images.solid(640, 1493, (30, 160, 30)))  # 9:21
    paths["portrait"].write_bytes(images.solid(720, 1280))
    return paths


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_video", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _refused(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        _run(*args)
    return caught.value


# One run per mode: (extra options, expected (width, height), expected frames).
CASES: dict[str, tuple[list[str], tuple[int, int], int]] = {
    "t2v_720p": (["--aspect-ratio", "9:16"], (720, 1280), 121),
    "t2v_1080p": (["--duration", "10", "--aspect-ratio", "21:9"], (2176, 928), 241),
    "i2v_first_720p": (["--image", "{first}"], (1280, 720), 121),
    "i2v_first_1080p": (["--image", "{first}", "--duration", "10"], (1920, 1088), 241),
    "i2v_first_tail_720p": (["--image", "{first}", "--tail-image", "{tail}"], (1280, 720), 121),
    "i2v_first_tail_1080p": (["--image", "{first}", "--tail-image", "{tail}"], (1920, 1088), 121),
    "i2v_recamera_720p": (
        ["--image", "{first}", "--template-id", "dynamic_orbit", "--camera-strength", "strong"],
        (1280, 720),
        121,
    ),
    "ti2v_pro": (["--duration", "10", "--aspect-ratio", "4:3"], (1664, 1248), 241),
    "s20_t2v": (["--aspect-ratio", "1:1"], (960, 960), 121),
    "s20_i2v": (["--image", "{tall}"], (720, 1680), 121),
    "doubao-seedance-1-0-pro-250528": (
        ["--duration", "2", "--resolution", "480p", "--aspect-ratio", "4:3"],
        (640, 480),
        49,
    ),
    "doubao-seedance-1-0-pro-fast-251015": (
        ["--duration", "3", "--resolution", "720p", "--aspect-ratio", "9:16"],
        (720, 1280),
        73,
    ),
    "doubao-seedance-1-0-lite-t2v-250428": (
        ["--duration", "2", "--resolution", "480p", "--aspect-ratio", "adaptive"],
        (864, 480),
        49,
    ),
    "doubao-seedance-1-0-lite-i2v-250428": (
        ["--duration", "2", "--resolution", "480p", "--image", "{portrait}"],
        (480, 864),
        49,
    ),
    "doubao-seedance-1-5-pro": (
        ["--duration", "4", "--resolution", "480p", "--aspect-ratio", "21:9"],
        (1120, 480),
        97,
    ),
    # Ark (docs/upstream/ark.md): sizes of the 1.0 models, then of the later ones.
    "seedance_1_0_pro": (["--resolution", "480p", "--aspect-ratio", "4:3", "--duration", "2"],
                         (736, 544), 49),
    "seedance_1_0_pro_fast": (["--image", "{first}", "--resolution", "480p", "--duration", "3"],
                              (864, 480), 73),
    "seedance_1_0_lite_t2v": (["--resolution", "480p", "--aspect-ratio", "1:1", "--duration", "2"],
                              (640, 640), 49),
    "seedance_1_0_lite_i2v": (["--image", "{first}", "--tail-image", "{tail}", "--resolution",
                               "480p", "--duration", "2"], (864, 480), 49),
    "seedance_1_5_pro": (["--resolution", "480p", "--duration", "4", "--audio"], (864, 496), 97),
    "seedance_2_0": (["--resolution", "480p", "--aspect-ratio", "9:16", "--duration", "4"],
                     (496, 864), 97),
    "seedance_2_0_fast": (["--resolution", "480p", "--duration", "-1"], (864, 496), 121),
    "seedance_2_0_mini": (["--image", "{portrait}", "--resolution", "480p", "--duration", "4"],
                          (496, 864), 97),
    "seedance_2_5": (["--duration", "4", "--resolution", "480p"], (864, 496), 97),
}  # fmt: skip


def test_cases_cover_the_whole_catalog() -> None:
    assert set(CASES) == set(MODES)


@pytest.mark.parametrize("mode", list(CASES), ids=list(CASES))
def test_every_mode_runs_end_to_end(cli_env, frames, tmp_path: Path, emulator, mode: str) -> None:
    options, size, frame_count = CASES[mode]
    options = [option.format(**{k: str(v) for k, v in frames.items()}) for option in options]
    output = tmp_path / "out" / f"{mode}.mp4"
    printed = _run(
        f"{mode}: a red kite over 西湖", "--mode", mode, "--output", str(output), *options
    )
    info = probe(output)
    assert (info.width, info.height) == size
    assert info.frames == frame_count and info.fps == 24
    assert printed.startswith("**Generated Video:** [Download Video](http://")
    assert f"- Mode: {mode}" in printed
    assert f"- Prompt: {mode}: a red kite over 西湖" in printed
    assert f"- Duration: {info.duration_seconds:g} seconds" in printed
    assert "- FPS: 24" in printed and f"- Save Path: {output}" in printed
    assert emulator.submits() == 1


def test_local_image_goes_as_base64_and_url_as_image_urls(
    cli_env, frames, tmp_path, emulator
) -> None:
    _run("first frame", "--mode", "i2v_first_720p", "--image", str(frames["first"]))
    sent = json.loads(emulator.store.tasks()[-1].body)
    assert sent["binary_data_base64"] == "<1 image(s)>" and "image_urls" not in sent
    sample = f"{emulator.base_url}/sandbox/samples/landscape.jpg"
    _run("by url", "--mode", "i2v_first_720p", "--image", sample)
    sent = json.loads(emulator.store.tasks()[-1].body)
    assert sent["image_urls"] == [sample] and "binary_data_base64" not in sent


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--duration", "6"], "5, 10"),
        (["--fps", "30"], "24 fps"),
        (["--mode", "t2v_720p", "--tail-image", "x.jpg"], "--tail-image needs --image"),
        (
            ["--mode", "i2v_first_720p", "--image", "{first}", "--tail-image", "{tail}"],
            "last frame",
        ),
        (["--template-id", "robo_arm"], "i2v_recamera_720p"),
        (["--mode", "i2v_first_720p", "--image", "/no/such.jpg"], "no such file"),
        (["--mode", "i2v_first_720p"], "needs 1 image"),
        (["--aspect-ratio", "2:1"], "16:9, 4:3, 1:1, 3:4, 9:16, 21:9"),
        (
            ["--mode", "i2v_first_tail_720p", "--image", "{first}", "--tail-image", "{portrait}"],
            "same aspect ratio",
        ),
        (["--mode", "doubao-seedance-1-0-pro-250528", "--duration", "13"], "2–12"),
        (
            ["--mode", "seedance_2_0", "--image", "{wide}", "--resolution", "480p"],
            "the image is 1400×500; seedance_2_0 takes images whose width/height is between "
            "0.4 and 2.5",
        ),
        (["--mode", "seedance_2_5", "--draft"], "seedance_2_5 makes no drafts"),
    ],
)
def test_invalid_options_are_refused_before_any_request(
    cli_env, frames, emulator, options, fragment
) -> None:
    options = [option.format(**{k: str(v) for k, v in frames.items()}) for option in options]
    error = _refused("a cat", *options)
    assert error.returncode == 2
    assert fragment in str(error)
    assert emulator.store.calls() == []


def test_a_mode_can_be_named_by_its_req_key_even_the_old_one(cli_env, emulator) -> None:
    printed = _run("a lantern", "--mode", "jimeng_t2v_v30_pro", "--aspect-ratio", "1:1")
    assert "- Mode: ti2v_pro" in printed
    assert json.loads(emulator.store.tasks()[-1].body)["req_key"] == "jimeng_ti2v_v30_pro"
    with pytest.raises(CommandError, match="unknown mode"):
        _run("a lantern", "--mode", "jimeng_t2v_v40")


def test_missing_keys_are_invalid_input(cli_env, monkeypatch) -> None:
    monkeypatch.delenv("VOLC_SECRETKEY")
    error = _refused("a cat")
    assert error.returncode == 2 and "VOLC_SECRETKEY" in str(error)


def test_text_risk_on_submit_exits_3_with_the_message(cli_env, emulator) -> None:
    error = _refused("a cat [risk:text]")
    assert error.returncode == 3
    assert "50412" in str(error) and "Text Risk Not Pass" in str(error)


def test_output_risk_exits_3(cli_env) -> None:
    error = _refused("a cat [risk:video]")
    assert error.returncode == 3 and "50516" in str(error)


def test_query_50429_and_50500_do_not_fail_the_run(cli_env, emulator, tmp_path) -> None:
    printed = _run("busy [sandbox:faults=50429,50500,50429]", "--output", str(tmp_path / "v.mp4"))
    assert "**Generated Video:**" in printed
    codes = [row["code"] for row in emulator.store.calls("query")]
    assert codes[:3] == [50429, 50500, 50429] and codes[-1] == 10000


def test_query_timeout_is_retried(cli_env, emulator, monkeypatch, settings) -> None:
    settings.SANDBOX_SLOW_SECONDS = 1.5
    monkeypatch.setenv("JIMENG_VIDEO_API_TIMEOUT", "0.5")
    printed = _run("slow answers [sandbox:faults=slow,slow]")
    assert "**Generated Video:**" in printed
    assert len(emulator.store.calls("query")) >= 3


def test_submit_read_timeout_is_reported_and_not_resubmitted(
    cli_env, emulator, monkeypatch, settings
) -> None:
    settings.SANDBOX_SLOW_SECONDS = 1.5
    monkeypatch.setenv("JIMENG_VIDEO_API_TIMEOUT", "0.5")
    error = _refused("slow submit [sandbox:submit-faults=slow]")
    assert error.returncode == 4
    assert "outcome unknown" in str(error) and "not resent" in str(error)
    # The upstream did make (and would bill) the task after we stopped waiting: this is
    # why the outcome is unknown rather than failed, and why nothing was resent.
    deadline = time.monotonic() + 5
    while not emulator.store.tasks() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(emulator.store.tasks()) == 1
    assert emulator.submits() == 1


def test_expired_url_gives_a_clear_error(cli_env, settings) -> None:
    settings.SANDBOX_URL_TTL_SECONDS = 0
    error = _refused("too late")
    assert error.returncode == 1
    assert "link expired before the video could be downloaded" in str(error)


def test_json_output(cli_env, emulator) -> None:
    printed = _run("as json", "--json", "--seed", "42")
    data = json.loads(printed)
    assert data["status"] == "done" and data["mode"] == "t2v_720p"
    assert data["video"]["frames"] == 121 and data["video"]["width"] == 1280
    assert data["submit_response"]["code"] == 10000 and data["request_id"]
    (task,) = [t for t in emulator.store.tasks() if t.prompt == "as json"]
    assert json.loads(task.body)["seed"] == 42


def test_process_exit_codes(cli_env, emulator) -> None:
    env = {**os.environ, **cli_env, "DJANGO_SETTINGS_MODULE": "jimeng_web.settings"}
    command = [sys.executable, str(ROOT / "manage.py"), "generate_video"]
    invalid = subprocess.run(
        [*command, "x", "--duration", "6"], env=env, capture_output=True, text=True, check=False
    )
    assert invalid.returncode == 2 and "5, 10" in invalid.stderr
    refused = subprocess.run(
        [*command, "x [risk:text]"], env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 3
    done = subprocess.run(
        [*command, "a quiet lake"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "- Mode: t2v_720p" in done.stdout


# --- through the studio's API (--studio) ------------------------------------------------


def _drive_while(thread: threading.Thread, timeout: float = 30.0) -> None:
    """Run the studio's pipeline in this process while the command waits for it."""
    from generations.models import Generation, Status
    from generations.services import pipeline

    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        pipeline.dispatch_round("test")
        for job in Generation.objects.filter(status=Status.DOWNLOADING):
            pipeline.archive(job.pk)
        time.sleep(0.05)
    thread.join(1)
    assert not thread.is_alive(), "the command did not finish"


@pytest.fixture
def studio_cli(cast, emulator, settings, monkeypatch):  # type: ignore[no-untyped-def]
    from tests.api_client import token_for
    from tests.cast import add_credential
    from tests.pipeline import FAST_PIPELINE

    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    add_credential(cast.team, emulator.volcengine_url)
    for name in ("VOLC_ACCESSKEY", "VOLC_SECRETKEY", "ARK_API_KEY", "JIMENG_GATEWAY_API_KEY"):
        monkeypatch.delenv(name, raising=False)  # no upstream keys: the studio's are used
    monkeypatch.setenv("JIMENG_STUDIO_TOKEN", token_for(cast, "member"))
    monkeypatch.setenv("JIMENG_VIDEO_POLL_INTERVAL", "0.1")
    return emulator.base_url


def _in_thread(*args: str) -> tuple[threading.Thread, dict[str, object]]:
    outcome: dict[str, object] = {}

    def run() -> None:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("generate_video", *args, stdout=out, stderr=err)
        except CommandError as error:
            outcome["error"] = error
        outcome["out"], outcome["err"] = out.getvalue(), err.getvalue()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_studio_mode_uses_the_teams_key_quota_and_gallery(
    cast, studio_cli, frames, tmp_path
) -> None:
    from generations.models import EntryKind, Generation, LedgerEntry

    target = tmp_path / "out" / "boat.mp4"
    thread, outcome = _in_thread(
        "a paper boat on a river",
        "--studio",
        studio_cli,
        "--mode",
        "i2v_first_720p",
        "--image",
        str(frames["first"]),
        "--output",
        str(target),
        "--json",
    )
    _drive_while(thread)
    assert "error" not in outcome, outcome
    result = json.loads(str(outcome["out"]))
    job = Generation.objects.get(pk=result["id"])
    assert (job.status, job.created_by, job.team) == ("ready", cast.member, cast.team)
    assert job.images.count() == 1 and result["save_path"] == str(target)
    assert LedgerEntry.objects.filter(generation=job, kind=EntryKind.SETTLE).exists()
    info = probe(target)
    assert (info.width, info.height) == (1280, 720)
    assert "status: ready" in str(outcome["err"])


@pytest.mark.django_db(transaction=True)
def test_studio_mode_reports_the_studios_refusals(cast, studio_cli, monkeypatch) -> None:
    from decimal import Decimal

    thread, outcome = _in_thread("a kite", "--studio", studio_cli, "--duration", "7")
    thread.join(20)
    error = outcome["error"]
    assert isinstance(error, CommandError) and error.returncode == 2
    assert "5, 10 seconds" in str(error)

    cast.team.quota_cny = Decimal("1.00")
    cast.team.save()
    thread, outcome = _in_thread("a kite", "--studio", studio_cli)
    thread.join(20)
    assert outcome["error"].returncode == 3 and "quota" in str(outcome["error"]).lower()  # type: ignore[attr-defined]

    monkeypatch.setenv("JIMENG_STUDIO_TOKEN", "jst_00000000_wrong")
    thread, outcome = _in_thread("a kite", "--studio", studio_cli)
    thread.join(20)
    assert outcome["error"].returncode == 3  # type: ignore[attr-defined]
    monkeypatch.delenv("JIMENG_STUDIO_TOKEN")
    thread, outcome = _in_thread("a kite", "--studio", studio_cli)
    thread.join(20)
    assert outcome["error"].returncode == 2 and "token" in str(outcome["error"])  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_model_an_operator_retired_is_marked_in_help_and_refused(
    cli_env, emulator, capsys
) -> None:
    from generations.models import Price

    Price.objects.update_or_create(
        key="ark:doubao-seedance-1-0-pro-250528",
        defaults={"cny_per_second": 0, "retires_on": datetime.now(UTC).date()},
    )
    with pytest.raises(SystemExit):
        call_command("generate_video", "--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"seedance_1_0_pro (retired {datetime.now(UTC).date()})" in help_text
    assert "seedance_1_0_pro_fast (retired" not in help_text
    error = _refused("a kite", "--mode", "seedance_1_0_pro", "--resolution", "480p")
    assert error.returncode == 2 and "retired" in str(error)
    assert emulator.store.calls() == []


def test_the_wide_image_goes_to_jimeng_which_takes_it(cli_env, frames, emulator) -> None:
    _run("wide", "--mode", "i2v_first_720p", "--image", str(frames["wide"]))
    assert emulator.submits() == 1


def test_a_request_the_upstream_refuses_exits_3_as_the_readme_says(cli_env) -> None:
    """Ark's 400 InvalidParameter is a refusal, like content review: exit 3, not 1."""
    from unittest import mock

    from generations.jimeng import transport

    envelope = {"error": {"code": "InvalidParameter", "message": "bad ratio", "type": "BadRequest"}}
    refusal = transport.HttpResponse(status=400, body=json.dumps(envelope).encode())
    with mock.patch.object(transport, "send", autospec=True, return_value=refusal):
        error = _refused("a kite", "--mode", "seedance_2_0", "--resolution", "480p")
    assert error.returncode == 3 and "InvalidParameter" in str(error)
    readme = (ROOT / "README.md").read_text()
    assert "3 refused upstream" in readme and "InvalidParameter" in readme
