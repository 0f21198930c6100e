"""Upload path: a 20 MB JPEG, a 30-megapixel PNG and a 36-megapixel RGBA PNG submitted
through the generate form of a real web process (gunicorn, one worker). Reports the time
to fit and encode and the web worker's peak RSS increase during the request."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from PIL import Image

from bench.harness import BENCH_PASSWORD, SANDBOX_AK, SANDBOX_SK, Stack, sign_in, sized
from bench.report import Table

MAX_UPLOAD = 20 * 1024 * 1024
SIDE = sized(1.0, 0.1)  # smoke: images a tenth as wide and high


def _size(width: int, height: int) -> tuple[int, int]:
    return max(400, round(width * SIDE)), max(400, round(height * SIDE))


def twenty_megabyte_jpeg() -> bytes:
    """A detailed photo-like JPEG just under the 20 MB upload limit."""
    width, height = _size(6000, 4000)
    noise = [Image.effect_noise((width, height), sigma) for sigma in (60, 70, 80)]
    image = Image.merge("RGB", noise)
    for quality in (97, 95, 93, 90, 85):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        if buffer.tell() < MAX_UPLOAD:
            return buffer.getvalue()
    raise RuntimeError("could not make a JPEG under 20 MB")


def thirty_megapixel_png() -> bytes:
    """6708 × 4472 = 30.0 MP; smooth enough to stay under the 20 MB upload limit."""
    width, height = _size(6708, 4472)
    gradient = Image.linear_gradient("L").resize((width, height))
    grain = Image.effect_noise((width, height), 2)
    image = Image.merge(
        "RGB", [gradient, grain, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    if buffer.tell() >= MAX_UPLOAD:
        raise RuntimeError(f"the PNG is {buffer.tell()} bytes")
    return buffer.getvalue()


def heavy_rgba_png() -> bytes:
    """5990 × 5990 RGBA (35.9 MP, 144 MB decoded): the review's heaviest accepted upload."""
    width, height = _size(5990, 5990)
    ramp = Image.linear_gradient("L").resize((width, height))
    grain = Image.effect_noise((width, height), 1).convert("L")
    image = Image.merge(
        "RGBA",
        [
            ramp,
            grain,
            ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            ramp.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        ],
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=9)
    if buffer.tell() >= MAX_UPLOAD:
        raise RuntimeError(f"the PNG is {buffer.tell()} bytes")
    return buffer.getvalue()


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _gunicorn_worker(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def run(pg: bool) -> Table:
    stack = Stack("upload", pg=pg)
    _user, team = stack.production_site("127.0.0.1")
    from generations.jimeng.images import fit_image
    from generations.models import Credential, Generation

    credential = Credential(
        team=team, kind="volcengine", label="k", is_default=True, endpoint="http://127.0.0.1:9/"
    )
    credential.set_secrets(access_key=SANDBOX_AK, secret=SANDBOX_SK)
    credential.save()

    server, base = stack.start_gunicorn(1)
    session = sign_in(base, "bench", BENCH_PASSWORD)
    worker = _gunicorn_worker(server.popen.pid)
    table = Table(
        "Upload path (gunicorn, one worker; first frame of image-to-video)",
        [
            "upload",
            "size",
            "pixels",
            "request",
            "fit + encode (in process)",
            "fitted",
            "peak RSS increase",
        ],
    )
    worst = 0
    for label, data, name in (
        ("20 MB JPEG", twenty_megabyte_jpeg(), "photo.jpg"),
        ("30 MP PNG", thirty_megapixel_png(), "scan.png"),
        ("36 MP RGBA PNG", heavy_rgba_png(), "poster.png"),
    ):
        started = time.perf_counter()
        fitted = fit_image(data)
        fit_seconds = time.perf_counter() - started
        session.get(f"{base}/t/bench/")  # warm the worker: templates, translations
        Path(f"/proc/{worker}/clear_refs").write_text("5")  # reset the peak to the current size
        before = _status_kb(worker, "VmRSS")
        page = session.get(f"{base}/t/bench/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        started = time.perf_counter()
        response = session.post(
            f"{base}/t/bench/",
            headers={"Referer": base},
            allow_redirects=False,
            data={
                "csrfmiddlewaretoken": token,
                "mode": "i2v_first_720p",
                "duration": "5",
                "seed": "-1",
                "prompt": "",
            },
            files={"first_image": (name, data)},
        )
        request_seconds = time.perf_counter() - started
        peak = _status_kb(worker, "VmHWM")
        assert response.status_code == 302, (response.status_code, response.text[:500])
        increase = (peak - before) / 1024
        worst = max(worst, increase)
        with Image.open(io.BytesIO(data)) as image:
            pixels = f"{image.width}×{image.height}"
        table.row(
            label,
            f"{len(data) / 1e6:.1f} MB",
            pixels,
            f"{request_seconds:.2f} s",
            f"{fit_seconds:.2f} s",
            f"{fitted.width}×{fitted.height}, {len(fitted.data) / 1e6:.2f} MB",
            f"{increase:.0f} MB",
        )
    assert Generation.objects.count() == 3
    stack.stop()
    table.target("upload peak RSS increase ≤ 150 MB", worst <= 150, f"{worst:.0f} MB")
    return table
