"""`make bench`: run the benchmarks, print their tables, and keep the latest figures in
bench/README.md together with the machine they were measured on.

    python bench/run.py                     every benchmark, embedded default stack
    python bench/run.py --only gallery,web  some of them
    BENCH_STACK=pg python bench/run.py      on PostgreSQL + Redis
    python bench/run.py --smoke             each on a handful of jobs: does it still run?

Each benchmark runs in its own Python process: each sets up Django on its own
throwaway stack.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.report import Table

BENCHMARKS = (
    "polling",
    "callbacks",
    "tracker",
    "gallery",
    "upload",
    "web",
    "api",
    "exports",
    "firstload",
)
README = Path(__file__).resolve().parent / "README.md"
STACKS = {"sqlite": "SQLite + django-q2 ORM broker", "pg": "PostgreSQL + Redis"}


def _child(name: str, out: Path, pg: bool) -> None:
    """Run one benchmark; whatever way it ends, stop every process it started."""
    import importlib

    from bench.harness import stop_everything

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        table = importlib.import_module(f"bench.{name}").run(pg)
    finally:
        stop_everything()
    out.write_text(json.dumps(asdict(table)))


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    memory = next(
        int(line.split()[1]) // 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    import django

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{os.cpu_count()} × {cpu}, {memory / 1024:.1f} GiB RAM; {platform.platform(terse=True)}; "
        f"Python {platform.python_version()}, Django {django.get_version()}; "
        f"commit {commit or 'unknown'}; {date.today().isoformat()}"
    )


def _write(stack: str, name: str, table: Table, elapsed: float) -> None:
    """Replace this benchmark's block in README.md for this stack, keeping the others."""
    text = README.read_text()
    begin, end = f"<!-- {stack}:{name} -->", f"<!-- /{stack}:{name} -->"
    block = (
        f"{begin}\n{table.markdown()}\n"
        f"_Measured on {machine()}; the run took {elapsed:.0f} s._\n{end}"
    )
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        marker = f"<!-- results:{stack} -->"
        if marker not in text:
            raise SystemExit(f"bench/README.md has no {marker} marker")
        text = text.replace(marker, f"{marker}\n{block}", 1)
    # Keep the blocks in the order of BENCHMARKS, whatever order they were measured in.
    README.write_text(_ordered(text, stack))


def _ordered(text: str, stack: str) -> str:
    blocks = {}
    for name in BENCHMARKS:
        found = re.search(
            rf"<!-- {stack}:{name} -->.*?<!-- /{stack}:{name} -->\n?", text, re.DOTALL
        )
        if found:
            blocks[name] = found.group(0).rstrip("\n") + "\n"
            text = text.replace(found.group(0), "")
    marker = f"<!-- results:{stack} -->"
    joined = "\n".join(blocks[name] for name in BENCHMARKS if name in blocks)
    text = text.replace(marker + "\n", f"{marker}\n{joined}", 1)
    return re.sub(r"\n{3,}", "\n\n", text)  # the blank lines the moved blocks left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated names")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    parser.add_argument(
        "--smoke", action="store_true", help="a handful of jobs each, figures not kept"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    pg = os.environ.get("BENCH_STACK", "sqlite") == "pg"
    if args.child:
        _child(args.child, args.out, pg)
        return 0
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {BENCHMARKS}")
    stack = "pg" if pg else "sqlite"
    env = dict(os.environ)
    if args.smoke:
        env["BENCH_SMOKE"] = "1"
        args.no_readme = True
    print(f"Benchmarks on {STACKS[stack]}{' (smoke)' if args.smoke else ''}\n{machine()}\n")
    failed = []
    for name in names:
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "table.json"
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, __file__, "--child", name, "--out", str(out)],
                check=False,
                env=env,
            )
            elapsed = time.monotonic() - started
            if done.returncode != 0 or not out.exists():
                print(f"{name}: FAILED (exit {done.returncode})\n")
                failed.append(name)
                continue
            table = Table(**json.loads(out.read_text()))
        print(table.text(), f"\n({elapsed:.0f} s)\n", sep="")
        if not args.no_readme:
            _write(stack, name, table, elapsed)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
