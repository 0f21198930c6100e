"""The benchmarks still run: each on a handful of jobs (`bench/run.py --smoke`), on the
stack this test run uses, so that a benchmark broken by a change fails the tests rather
than the next release's measurements. Their figures mean nothing here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from bench.run import BENCHMARKS
from tests.paths import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_benchmark_runs(name: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO")}
    env["BENCH_STACK"] = "pg" if connection.vendor == "postgresql" else "sqlite"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--only", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAILED" not in done.stdout


def test_a_benchmark_that_fails_stops_what_it_started(tmp_path: Path) -> None:
    """A benchmark that raises half-way must not leave its emulator or workers running."""
    script = tmp_path / "broken.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "os.environ['BENCH_SMOKE'] = '1'\n"
        "from bench import run\n"
        "from bench.harness import Stack\n"
        "import bench\n"
        "def broken(pg):\n"
        "    stack = Stack('broken')\n"
        "    stack.manage('migrate', '--noinput')\n"
        "    stack.start_emulator()\n"
        "    stack.start_worker()\n"
        "    print('pids', stack.processes[0].popen.pid, stack.processes[1].popen.pid,"
        " flush=True)\n"
        "    raise RuntimeError('half-way')\n"
        "import types\n"
        "sys.modules['bench.broken'] = types.SimpleNamespace(run=broken)\n"
        f"run._child('broken', __import__('pathlib').Path({str(tmp_path / 'out')!r}), False)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0 and "half-way" in done.stderr
    pids = [int(pid) for pid in done.stdout.split("pids", 1)[1].split()[:2]]
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), f"{pid} still runs"


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
