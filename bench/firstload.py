"""First load: what a browser with an empty cache fetches to show the generate page and
the gallery (the page, its scripts and styles, the posters it shows), in bytes on the
wire and requests, and the page's own server time; gunicorn with one worker, as
production serves it (hashed, compressed static files)."""

from __future__ import annotations

import io
import random
import statistics
from html.parser import HTMLParser
from urllib.parse import urljoin

from bench.gallery import _seed
from bench.harness import BENCH_PASSWORD, Stack, sign_in, sized
from bench.report import Table

GENERATIONS = sized(200, 30)
TIMED = sized(20, 3)
PAGES = (("generate page", "/t/bench/"), ("gallery", "/t/bench/gallery/"))


class _Resources(HTMLParser):
    """What a browser fetches on first paint: scripts, stylesheets, images that are not
    lazy, video posters."""

    def __init__(self) -> None:
        super().__init__()
        self.eager: list[str] = []
        self.lazy: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "script" and found.get("src"):
            self.eager.append(found["src"])
        elif tag == "link" and found.get("rel") == "stylesheet":
            self.eager.append(found["href"])
        elif tag == "img" and found.get("src"):
            (self.lazy if found.get("loading") == "lazy" else self.eager).append(found["src"])
        elif tag == "video" and found.get("poster"):
            self.eager.append(found["poster"])


def _posters(team, count: int) -> None:  # type: ignore[no-untyped-def]
    """Real JPEG posters (960×540, as the archive step cuts them) for the newest jobs."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image

    from generations.models import Generation

    rng = random.Random(7)
    for job in Generation.objects.filter(team=team).order_by("-created_at")[:count]:
        image = Image.new("RGB", (960, 540), tuple(rng.randrange(256) for _ in range(3)))
        # A little grain, so that a poster weighs what a video frame does (~20–40 KB).
        noise = Image.effect_noise((960, 540), 20).convert("RGB")
        image = Image.blend(image, noise, 0.06)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=75)
        if job.poster.name:
            default_storage.delete(job.poster.name)
            default_storage.save(job.poster.name, ContentFile(buffer.getvalue()))


def _fetch(session, url: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(bytes on the wire, requests), following redirects (signed media links) as a
    browser does, each hop a request."""
    total, requests_made = 0, 0
    while True:
        answer = session.get(
            url, headers={"Accept-Encoding": "gzip, br"}, stream=True, allow_redirects=False
        )
        body = answer.raw.read(decode_content=False)
        total += len(body) + sum(len(k) + len(v) + 4 for k, v in answer.headers.items())
        requests_made += 1
        if answer.is_redirect:
            url = urljoin(url, answer.headers["Location"])
            continue
        if answer.status_code != 200:
            raise RuntimeError(f"{url} answered {answer.status_code}")
        return total, requests_made


def run(pg: bool) -> Table:
    stack = Stack("firstload", pg=pg)
    user, team = stack.production_site("127.0.0.1")
    _seed(team, user, 0, GENERATIONS)
    _posters(team, 30)
    _, base = stack.start_gunicorn(1)
    session = sign_in(base, "bench", BENCH_PASSWORD)
    table = Table(
        f"First load with an empty cache (gunicorn, one worker; {GENERATIONS} generations)",
        [
            "page",
            "requests",
            "bytes on the wire",
            "of which the page",
            "lazy images after",
            "server time p50",
        ],
    )
    for label, path in PAGES:
        page_bytes, hops = _fetch(session, base + path)
        html = session.get(base + path).text
        resources = _Resources()
        resources.feed(html)
        total, count = page_bytes, hops
        for src in dict.fromkeys(resources.eager):  # each once, as a browser would
            size, made = _fetch(session, urljoin(base + path, src))
            total, count = total + size, count + made
        lazy = [_fetch(session, urljoin(base + path, src)) for src in resources.lazy]
        lazy_bytes, lazy_requests = sum(b for b, _ in lazy), sum(r for _, r in lazy)
        times = [session.get(base + path).elapsed.total_seconds() * 1000 for _ in range(TIMED)]
        table.row(
            label,
            count,
            f"{total / 1024:.0f} KB",
            f"{page_bytes / 1024:.0f} KB",
            f"{len(resources.lazy)}: {lazy_requests} requests, {lazy_bytes / 1024:.0f} KB",
            f"{statistics.median(times):.1f} ms",
        )
    table.note(
        "Bytes on the wire: bodies as sent (compressed where the server compresses) plus "
        "headers; a signed media link's redirect counts as a request. Lazy images are "
        "fetched as they scroll into view; they are listed apart."
    )
    stack.stop()
    return table
