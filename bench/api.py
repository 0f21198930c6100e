"""API throughput: create + get pairs against /api/v1/ under gunicorn with two workers,
from client threads on the same machine, each pair a real job (form checks, quota
reservation, queueing) read back at once. No worker runs: the jobs stay queued."""

from __future__ import annotations

import statistics
import threading
import time
import uuid

import requests

from bench.harness import SANDBOX_AK, SANDBOX_SK, Stack, sized
from bench.report import Table

CLIENTS = sized((1, 4, 8), (1, 2))
PAIRS_PER_CLIENT = sized(60, 5)
BODY = {"mode": "t2v_720p", "prompt": "a kite over the lake", "duration": 5, "aspect_ratio": "16:9"}


def _token(team, user) -> str:  # type: ignore[no-untyped-def]
    from generations.models import ApiToken, Credential

    credential = Credential(
        team=team,
        kind="volcengine",
        label="bench",
        is_default=True,
        endpoint="https://visual.volcengineapi.com",
    )
    credential.set_secrets(access_key=SANDBOX_AK, secret=SANDBOX_SK)
    credential.save()
    return ApiToken.issue(team=team, user=user, name="bench")[1]


def _client(
    base: str,
    token: str,
    pairs: int,
    out: dict[str, list[float]],
    errors: list[str],
    start: threading.Barrier,
) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    start.wait()
    for _ in range(pairs):
        began = time.perf_counter()
        created = session.post(
            f"{base}/api/v1/generations", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        middle = time.perf_counter()
        if created.status_code != 201:
            errors.append(f"create {created.status_code}")
            continue
        read = session.get(f"{base}/api/v1/generations/{created.json()['id']}")
        ended = time.perf_counter()
        if read.status_code != 200:
            errors.append(f"get {read.status_code}")
        out["create"].append(middle - began)
        out["get"].append(ended - middle)


def _round(base: str, token: str, clients: int) -> tuple[float, dict[str, list[float]], list[str]]:
    out: dict[str, list[float]] = {"create": [], "get": []}
    errors: list[str] = []
    start = threading.Barrier(clients + 1)
    threads = [
        threading.Thread(target=_client, args=(base, token, PAIRS_PER_CLIENT, out, errors, start))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, out, errors


def _ms(values: list[float], q: int) -> str:
    return f"{statistics.quantiles(values, n=100)[q - 1] * 1000:.1f} ms"


def run(pg: bool) -> Table:
    stack = Stack("api", pg=pg)
    user, team = stack.production_site("127.0.0.1")
    token = _token(team, user)
    _, base = stack.start_gunicorn(2, API_RATE_PER_MINUTE="1000000")
    table = Table(
        f"API create + get (gunicorn, 2 workers; {PAIRS_PER_CLIENT} pairs per client thread)",
        ["clients", "pairs/s", "create p50", "create p99", "get p50", "get p99", "failed"],
    )
    _round(base, token, 1)  # warm up: imports, connections, caches
    for clients in CLIENTS:
        elapsed, out, errors = _round(base, token, clients)
        pairs = len(out["create"])
        table.row(
            clients,
            f"{pairs / elapsed:.0f}",
            _ms(out["create"], 50),
            _ms(out["create"], 99),
            _ms(out["get"], 50),
            _ms(out["get"], 99),
            len(errors),
        )
    from generations.models import Generation

    table.note(
        f"{Generation.objects.filter(team=team).count()} jobs made, each reserved against the "
        "quota and queued. The client threads run on the same two cores as gunicorn and the "
        "database: these are the whole machine's figures."
    )
    stack.stop()
    return table
