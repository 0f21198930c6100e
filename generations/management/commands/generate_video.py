"""`manage.py generate_video PROMPT`: the command line of the original Jimeng skill.

Same options and environment variables as the skill; the answer is the skill's
markdown block (or JSON with --json). Exit codes: 0 success, 1 other failure (network,
download), 2 invalid input, 3 refused upstream (content review, keys), 4 timed out.

With `--studio URL` (and a personal access token in `--token` or JIMENG_STUDIO_TOKEN)
the job goes through the studio's API instead: the team's keys pay, its quota holds,
and the video lands in its gallery (docs/api.md). Exit 3 then also means the studio
refused (the token, the role or the quota).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from generations.jimeng import catalog, runner
from generations.jimeng.addresses import AddressRules
from generations.jimeng.catalog import Provider
from generations.jimeng.client import (
    DEFAULT_ARK_URL,
    DEFAULT_ENDPOINT,
    ArkClient,
    GatewayClient,
    TaskStatus,
    Timeouts,
    UpstreamClient,
    VolcengineClient,
)
from generations.jimeng.errors import JimengError
from generations.jimeng.images import ImageRejected, fit_image, nearest_aspect_ratio
from generations.jimeng.payload import (
    GenerationInput,
    build_body,
    check_input,
    image_ratio_choices,
)
from generations.management import studio_client
from generations.models import Price, address_rules

EXIT_FAILURE, EXIT_INVALID, EXIT_REFUSED, EXIT_TIMEOUT = 1, 2, 3, 4


def _invalid(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_INVALID)


@dataclass(frozen=True)
class Environment:
    api_url: str
    access_key: str
    secret_key: str
    gateway_url: str
    gateway_key: str
    ark_url: str
    ark_key: str
    timeout: float
    poll_interval: float
    max_poll_attempts: int

    @classmethod
    def read(cls) -> Environment:
        def number(name: str, default: str) -> float:
            raw = os.environ.get(name, default)
            try:
                value = float(raw)
            except ValueError:
                raise _invalid(f"{name} must be a number, not {raw!r}") from None
            if value <= 0:
                raise _invalid(f"{name} must be greater than 0")
            return value

        return cls(
            api_url=os.environ.get("JIMENG_VIDEO_API_URL", DEFAULT_ENDPOINT),
            access_key=os.environ.get("VOLC_ACCESSKEY", ""),
            secret_key=os.environ.get("VOLC_SECRETKEY", ""),
            gateway_url=os.environ.get("JIMENG_GATEWAY_API_URL", ""),
            gateway_key=os.environ.get("JIMENG_GATEWAY_API_KEY", ""),
            ark_url=os.environ.get("ARK_API_URL", DEFAULT_ARK_URL),
            ark_key=os.environ.get("ARK_API_KEY", ""),
            timeout=number("JIMENG_VIDEO_API_TIMEOUT", "60"),
            poll_interval=number("JIMENG_VIDEO_POLL_INTERVAL", "5"),
            max_poll_attempts=int(number("JIMENG_VIDEO_MAX_POLL_ATTEMPTS", "120")),
        )

    def rules(self, mode: catalog.Mode) -> AddressRules:
        """The operator typed the API URL in: its whole origin (where the video links
        of a local emulator point too) is trusted like the built-in emulator."""
        urls = {Provider.GATEWAY: self.gateway_url, Provider.ARK: self.ark_url}
        parts = urlsplit(urls.get(mode.provider, self.api_url))
        return address_rules(f"{parts.scheme}://{parts.netloc}/" if parts.netloc else "")

    def client(self, mode: catalog.Mode) -> UpstreamClient:
        timeouts = Timeouts(
            connect=min(10.0, self.timeout), query=self.timeout, submit=self.timeout
        )
        try:
            rules = self.rules(mode)
        except ValueError as error:
            raise _invalid(str(error)) from None
        if mode.is_ark:
            if not self.ark_key:
                raise _invalid(f"{mode.name} is an Ark model: set ARK_API_KEY (and ARK_API_URL)")
            try:
                return ArkClient(
                    api_key=self.ark_key, base_url=self.ark_url, timeouts=timeouts, rules=rules
                )
            except ValueError as error:
                raise _invalid(f"ARK_API_URL: {error}") from None
        if mode.is_gateway:
            if not (self.gateway_url and self.gateway_key):
                raise _invalid(
                    f"{mode.name} is a gateway model: set JIMENG_GATEWAY_API_URL and "
                    "JIMENG_GATEWAY_API_KEY"
                )
            return GatewayClient(
                api_key=self.gateway_key, base_url=self.gateway_url, timeouts=timeouts, rules=rules
            )
        if not (self.access_key and self.secret_key):
            raise _invalid("set VOLC_ACCESSKEY and VOLC_SECRETKEY (your Volcengine AK/SK)")
        try:
            return VolcengineClient(
                access_key=self.access_key,
                secret_key=self.secret_key,
                endpoint=self.api_url,
                timeouts=timeouts,
                rules=rules,
            )
        except ValueError as error:
            raise _invalid(f"JIMENG_VIDEO_API_URL: {error}") from None


@dataclass(frozen=True)
class _Image:
    """One --image / --tail-image: a local file fitted (its base64, detected ratio and
    size), or a URL passed on as it is."""

    base64: str | None = None
    url: str | None = None
    ratio: str | None = None
    size: tuple[int, int] | None = None


def _image(value: str, mode: catalog.Mode, option: str) -> _Image:
    if value.startswith(("http://", "https://")):
        return _Image(url=value)
    path = Path(value).expanduser()
    if not path.is_file():
        raise _invalid(f"{option}: no such file: {value}")
    try:
        with path.open("rb") as handle:
            fitted = fit_image(handle)
    except ImageRejected as rejection:
        raise _invalid(f"{option}: {rejection.message}") from None
    ratio = nearest_aspect_ratio(fitted.width, fitted.height, image_ratio_choices(mode))
    return _Image(fitted.base64(), None, ratio, (fitted.width, fitted.height))


def _input(mode: catalog.Mode, options: dict[str, Any]) -> GenerationInput:
    images: list[_Image] = []
    if options["image"]:
        images.append(_image(options["image"], mode, "--image"))
    if options["tail_image"]:
        if not options["image"]:
            raise _invalid("--tail-image needs --image (the first frame) as well")
        images.append(_image(options["tail_image"], mode, "--tail-image"))
    return GenerationInput(
        prompt=options["prompt"],
        seconds=options["duration"] if options["duration"] is not None else mode.default_duration,
        aspect_ratio=options["aspect_ratio"],
        seed=options["seed"],
        images_base64=tuple(image.base64 for image in images if image.base64),
        image_urls=tuple(image.url for image in images if image.url),
        image_ratios=tuple(image.ratio for image in images if image.ratio),
        image_sizes=tuple(image.size for image in images if image.size),
        template_id=options["template_id"],
        camera_strength=options["camera_strength"],
        resolution=options["resolution"],
        generate_audio=options["audio"],
        draft=options["draft"],
    )


def _check(mode: catalog.Mode, request: GenerationInput, fps: int) -> None:
    problems = [problem.message for problem in check_input(mode, request)]
    if fps != catalog.FPS:
        problems.append(f"{mode.name} renders at {catalog.FPS} fps; --fps {fps} is not available")
    if problems:
        raise _invalid("; ".join(problems))


def _retirements() -> dict[str, date]:
    """The models operators retired (the studio's prices, in the admin). The command
    also runs where the studio's database was never set up: then none are."""
    try:
        return Price.objects.retired(datetime.now(UTC).date())
    except DatabaseError:
        return {}


def _modes_help() -> str:
    retired = _retirements()
    return ", ".join(
        f"{name} (retired {retired[mode.price_key]})" if mode.price_key in retired else name
        for name, mode in catalog.MODES.items()
    )


def _mode(value: str) -> catalog.Mode:
    """--mode takes a mode's name or its req_key (the older `jimeng_t2v_v30_pro` too)."""
    try:
        return catalog.get_mode(value)
    except KeyError as error:
        raise argparse.ArgumentTypeError(str(error.args[0])) from None


def _failure(error: JimengError) -> CommandError:
    if error.outcome_unknown:
        return CommandError(str(error), returncode=EXIT_TIMEOUT)
    return CommandError(str(error), returncode=EXIT_REFUSED if error.is_refusal else EXIT_FAILURE)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("give the studio's http:// or https:// address")
    return f"{parts.scheme}://{parts.netloc}/"


def _data_uri(path: Path, option: str) -> str:
    """A local image as a data URI; the studio checks and fits it like an upload."""
    if not path.is_file():
        raise _invalid(f"{option}: no such file: {path}")
    data = path.read_bytes()
    kind = (
        "png"
        if data.startswith(b"\x89PNG")
        else "jpeg"
        if data.startswith(b"\xff\xd8")
        else "webp"
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        else None
    )
    if kind is None:
        raise _invalid(f"{option}: use a JPEG, PNG or WebP image")
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def _studio_body(mode: catalog.Mode, options: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mode": mode.name,
        "prompt": options["prompt"],
        "duration": options["duration"]
        if options["duration"] is not None
        else mode.default_duration,
        "seed": options["seed"],
        "generate_audio": options["audio"],
        "draft": options["draft"],
    }
    for key in ("aspect_ratio", "resolution", "template_id", "camera_strength"):
        if options[key]:
            body[key] = options[key]
    for option, key, field in (
        ("--image", "image", "first_image"),
        ("--tail-image", "tail_image", "last_image"),
    ):
        value = options[key]
        if value:
            is_url = value.startswith(("http://", "https://"))
            body[field] = value if is_url else _data_uri(Path(value).expanduser(), option)
    return body


class Command(BaseCommand):
    help = "Generate one video with the Jimeng API and print where it is."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt", help="what the video shows")
        parser.add_argument(
            "--mode",
            default="t2v_720p",
            type=_mode,
            help=f"one of {_modes_help()}, or a req_key",
        )
        parser.add_argument(
            "--duration", type=int, help="seconds (5 or 10 for Jimeng 3.0; -1: the model picks)"
        )
        parser.add_argument("--fps", type=int, default=catalog.FPS, help="frames per second (24)")
        parser.add_argument("--image", help="first frame: an image URL or a local file")
        parser.add_argument("--tail-image", help="last frame, for the first + last frame modes")
        parser.add_argument("--aspect-ratio", help="16:9, 4:3, 1:1, 3:4, 9:16 or 21:9")
        parser.add_argument("--template-id", help="camera template (i2v_recamera_720p)")
        parser.add_argument("--camera-strength", help="weak, medium or strong")
        parser.add_argument("--resolution", help="480p, 720p or 1080p (gateway and Ark models)")
        parser.add_argument("--audio", action="store_true", help="with sound (Ark models)")
        parser.add_argument("--draft", action="store_true", help="a cheap 480p draft (Ark)")
        parser.add_argument("--seed", type=int, default=-1, help="-1 for random")
        parser.add_argument("--output", help="save the video to this path")
        parser.add_argument("--json", action="store_true", help="print JSON instead")
        parser.add_argument(
            "--studio",
            default=os.environ.get("JIMENG_STUDIO_URL", ""),
            help="go through this studio's API (its address, e.g. https://studio.example.com)",
        )
        parser.add_argument(
            "--token",
            default=os.environ.get("JIMENG_STUDIO_TOKEN", ""),
            help="a studio access token (better: JIMENG_STUDIO_TOKEN, not in the shell history)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        mode = options["mode"]
        retired_on = _retirements().get(mode.price_key)
        if retired_on is not None:
            raise _invalid(f"{mode.name} was retired on {retired_on}; choose another")
        environment = Environment.read()
        if options["studio"]:
            self._through_studio(mode, environment, options)
            return
        request = _input(mode, options)
        _check(mode, request, options["fps"])
        client = environment.client(mode)
        output = Path(options["output"]).expanduser().resolve() if options["output"] else None
        try:
            result = runner.run(
                client,
                build_body(mode, request),
                req_key=mode.req_key,
                req_json=None,
                interval=environment.poll_interval,
                max_attempts=environment.max_poll_attempts,
                output=output,
                connect_timeout=min(10.0, environment.timeout),
                read_timeout=environment.timeout,
                on_result=lambda r: self.stderr.write(f"status: {r.status}", ending="\n"),
                rules=environment.rules(mode),
            )
        except JimengError as error:
            raise _failure(error) from None
        except runner.PollTimeout as timeout:
            raise CommandError(str(timeout), returncode=EXIT_TIMEOUT) from None
        self._finish(mode, request, result, options["json"])

    def _through_studio(
        self, mode: catalog.Mode, environment: Environment, options: dict[str, Any]
    ) -> None:
        if not options["token"]:
            raise _invalid("--studio needs a token: --token or JIMENG_STUDIO_TOKEN")
        if options["fps"] != catalog.FPS:
            raise _invalid(f"videos render at {catalog.FPS} fps; --fps is not available")
        base = options["studio"]
        try:
            rules = address_rules(_origin(base))
        except ValueError as error:
            raise _invalid(f"--studio: {error}") from None
        client = studio_client.StudioClient(base, options["token"], rules, environment.timeout)
        output = Path(options["output"]).expanduser().resolve() if options["output"] else None
        try:
            job = client.create(_studio_body(mode, options))
            self.stderr.write(f"job {job['id']}: {job['links']['page']}", ending="\n")
            job = client.wait(
                job["id"],
                interval=environment.poll_interval,
                max_attempts=environment.max_poll_attempts,
                on_status=lambda status: self.stderr.write(f"status: {status}", ending="\n"),
            )
            if job["status"] != "ready":
                failure = job.get("failure") or {}
                reason = failure.get("reason") or job["status"]
                code = EXIT_REFUSED if job["status"] == "failed" else EXIT_FAILURE
                raise CommandError(
                    f"job {job['id']} ended {job['status']}: {reason}", returncode=code
                )
            if output is not None:
                client.download(job["id"], output, max_bytes=1024 * 1024 * 1024)
        except studio_client.StudioError as error:
            code = {0: EXIT_FAILURE, 400: EXIT_INVALID, 422: EXIT_INVALID}.get(
                error.status, EXIT_REFUSED if 400 <= error.status < 500 else EXIT_FAILURE
            )
            raise CommandError(f"the studio answered: {error.message}", returncode=code) from None
        except TimeoutError as timeout:
            raise CommandError(str(timeout), returncode=EXIT_TIMEOUT) from None
        if options["json"]:
            job["save_path"] = str(output) if output else None
            self.stdout.write(json.dumps(job, ensure_ascii=False, indent=2))
            return
        video = job.get("video") or {}
        lines = [
            f"**Generated Video:** [Open in the studio]({job['links']['page']})",
            "",
            "**Generation Info:**",
            f"- Prompt: {job['prompt']}",
            f"- Duration: {video.get('duration') or job['seconds']:g} seconds",
            f"- Mode: {job['mode']}",
            f"- FPS: {video.get('fps') or catalog.FPS:g}",
            f"- Cost: {job['cost_cny']} CNY",
        ]
        if output:
            lines.append(f"- Save Path: {output}")
        self.stdout.write("\n".join(lines))

    def _finish(
        self, mode: catalog.Mode, request: GenerationInput, result: runner.RunResult, as_json: bool
    ) -> None:
        task = result.result
        if task.status != TaskStatus.DONE:
            reason = task.failure_message or task.status.value
            code = EXIT_REFUSED if task.status == TaskStatus.FAILED else EXIT_FAILURE
            detail = f" (code {task.failure_code})" if task.failure_code else ""
            raise CommandError(
                f"task {task.task_id} ended {task.status}: {reason}{detail}", returncode=code
            )
        if as_json:
            self.stdout.write(
                json.dumps(self._as_dict(mode, request, result), ensure_ascii=False, indent=2)
            )
            return
        self.stdout.write(self._markdown(mode, request, result))

    @staticmethod
    def _as_dict(
        mode: catalog.Mode, request: GenerationInput, result: runner.RunResult
    ) -> dict[str, Any]:
        return {
            "task_id": result.submitted.task_id,
            "request_id": result.result.request_id or result.submitted.request_id,
            "status": result.result.status.value,
            "video_url": result.result.video_url,
            "aigc_meta_tagged": result.result.aigc_meta_tagged,
            "mode": mode.name,
            "req_key": mode.req_key,
            "prompt": request.prompt,
            "video": asdict(result.video) if result.video else None,
            "save_path": str(result.saved_to) if result.saved_to else None,
            "polls": result.polls,
            "submit_response": dict(result.submitted.raw),
            "result_response": dict(result.result.raw),
        }

    @staticmethod
    def _markdown(mode: catalog.Mode, request: GenerationInput, result: runner.RunResult) -> str:
        video = result.video
        assert video is not None
        lines = [
            f"**Generated Video:** [Download Video]({result.result.video_url})",
            "",
            "**Generation Info:**",
            f"- Prompt: {request.prompt}",
            f"- Duration: {video.duration_seconds:g} seconds",
            f"- Mode: {mode.name}",
            f"- FPS: {video.fps:g}",
        ]
        if result.saved_to:
            lines.append(f"- Save Path: {result.saved_to}")
        return "\n".join(lines)
