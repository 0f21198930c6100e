"""Web throughput: the gallery page and the job-status endpoint under gunicorn with two
workers, loaded by wrk over loopback with a signed-in session, 10,000 generations in the
team."""

from __future__ import annotations

import re
import shutil
import subprocess

from bench.gallery import _seed
from bench.harness import BENCH_PASSWORD, Stack, sign_in, sized
from bench.report import Table

GENERATIONS = sized(10_000, 100)
WRK = ("-t2", "-c8", sized("-d10s", "-d1s"), "--latency")


def _seconds(figure: str) -> float:
    """wrk's latency figure ("812.00us", "3.05ms", "1.20s") in seconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", figure).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def _load(url: str, cookie: str) -> tuple[float, float, float, int]:
    """(requests/s, p50 s, p99 s, failed responses) from one wrk run."""
    output = subprocess.run(
        ["wrk", *WRK, "-H", f"Cookie: {cookie}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _seconds(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _seconds(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    if errors:
        raise RuntimeError(f"wrk reported {errors.group(0)}")
    return rate, p50, p99, int(failed.group(1)) if failed else 0


def run(pg: bool) -> Table:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: make install-dev installs it from Debian")
    stack = Stack("web", pg=pg)
    user, team = stack.production_site("127.0.0.1")
    from generations.models import Generation

    _seed(team, user, 0, GENERATIONS)
    ids = ",".join(
        str(pk) for pk in Generation.objects.filter(team=team).values_list("pk", flat=True)[:24]
    )

    _, base = stack.start_gunicorn(2)
    session = sign_in(base, "bench", BENCH_PASSWORD)
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    table = Table(
        f"Web throughput (gunicorn, 2 workers; wrk {' '.join(WRK)}; "
        f"{GENERATIONS:,} generations in the team)",
        ["endpoint", "requests/s", "p50", "p99", "failed"],
    )
    for label, path in (
        ("gallery page", "/t/bench/gallery/"),
        ("job status (24 jobs)", f"/t/bench/jobs/status?ids={ids}"),
    ):
        # Must answer 200 to the session, not a redirect to the login page.
        answer = session.get(base + path, allow_redirects=False)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}")
        rate, p50, p99, failed = _load(base + path, cookie)
        table.row(label, f"{rate:.0f}", f"{p50 * 1000:.1f} ms", f"{p99 * 1000:.1f} ms", failed)
    table.note(
        "wrk runs on the same two cores as gunicorn and its database, so these figures are "
        "what the whole machine does, not the server alone."
    )
    stack.stop()
    return table
