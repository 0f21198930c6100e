"""The emulator's memory: tasks and a log of every call, in a SQLite file of its own.

The emulator plays a separate service, so it keeps its state apart from the studio's
database: taking the studio's database down must not take the "upstream" down with
it, and any number of web processes serving the emulator share one file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Bumped whenever SCHEMA changes: the emulator's state is disposable, so an older file
# is simply emptied and rebuilt.
SCHEMA_VERSION = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    api TEXT NOT NULL,
    access_key TEXT NOT NULL,
    req_key TEXT NOT NULL,
    prompt TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    created_at REAL NOT NULL,
    ready_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    render_key TEXT NOT NULL,
    render_claimed_at REAL,
    body TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    cancelled_at REAL,
    deleted_at REAL
);
CREATE TABLE IF NOT EXISTS renders (
    render_key TEXT PRIMARY KEY,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    api TEXT NOT NULL,
    action TEXT NOT NULL,
    access_key TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    code INTEGER,
    task_id TEXT,
    subject TEXT
);
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_at REAL,
    delivered_at REAL
);
CREATE TABLE IF NOT EXISTS holds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_key_at ON calls (access_key, at);
CREATE INDEX IF NOT EXISTS calls_subject ON calls (subject);
"""


@dataclass(frozen=True)
class Task:
    id: str
    api: str
    access_key: str
    req_key: str
    prompt: str
    width: int
    height: int
    frames: int
    created_at: float
    ready_at: float
    outcome: str  # ok | risk | expired
    render_key: str
    render_claimed_at: float | None
    body: str
    rendered_at: float | None
    extra: str = "{}"  # Ark: the task's options, as JSON (sandbox/ark.py)
    cancelled_at: float | None = None
    deleted_at: float | None = None

    @property
    def options(self) -> dict[str, Any]:
        loaded = json.loads(self.extra or "{}")
        return loaded if isinstance(loaded, dict) else {}

    @property
    def done_at(self) -> float | None:
        """When upstream finished: the later of its generation time and its render."""
        if self.outcome != "ok":
            return self.ready_at
        return None if self.rendered_at is None else max(self.ready_at, self.rendered_at)


_local = threading.local()
_opening = threading.Lock()
OLD_TABLES = ("tasks", "renders", "calls", "holds", "callbacks")


def _ensure_schema(connection: sqlite3.Connection) -> None:
    """Build (or rebuild) the tables once, under the write lock: the first requests of
    a threaded server arrive together, and one thread's rebuild dropped the tables
    another had just made ("no such table: calls" answered a submit with a 500)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            for table in OLD_TABLES:
                connection.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "sandbox.sqlite3"

    @property
    def videos(self) -> Path:
        return self.directory / "videos"

    @property
    def inputs(self) -> Path:
        return self.directory / "inputs"

    def _connection(self) -> sqlite3.Connection:
        cache: dict[Path, sqlite3.Connection] = getattr(_local, "connections", None) or {}
        _local.connections = cache
        connection = cache.get(self.path)
        if connection is None or not self.path.exists():
            self.videos.mkdir(parents=True, exist_ok=True)
            self.inputs.mkdir(parents=True, exist_ok=True)
            # One thread of this process at a time: switching a new file to WAL while
            # another connection does the same answers "database is locked" at once.
            with _opening:
                connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                connection.row_factory = sqlite3.Row
                connection.execute("PRAGMA journal_mode=WAL")
                _ensure_schema(connection)
            cache[self.path] = connection
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    # --- calls and limits ----------------------------------------------------------

    def admit(
        self, *, api: str, action: str, access_key: str, qps: float, subject: str | None = None
    ) -> int | None:
        """Log a call; return its id when it is within `qps` accepted calls a second.

        `subject` names what the call is about (a task id for queries, a body digest for
        submits), so scripted faults can count earlier calls about the same thing.
        """
        now = time.time()
        with self.transaction() as db:
            recent = db.execute(
                "SELECT COUNT(*) FROM calls WHERE access_key = ? AND at > ? AND http_status != 429",
                (access_key, now - 1.0),
            ).fetchone()[0]
            admitted = qps <= 0 or recent < qps
            cursor = db.execute(
                "INSERT INTO calls (at, api, action, access_key, http_status, code, subject)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    api,
                    action,
                    access_key,
                    200 if admitted else 429,
                    None if admitted else 50429,
                    subject,
                ),
            )
        return cursor.lastrowid if admitted else None

    def record_outcome(
        self, call_id: int, *, http_status: int, code: int | None, task_id: str | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE calls SET http_status = ?, code = ?, task_id = ? WHERE id = ?",
                (http_status, code, task_id, call_id),
            )

    def earlier_calls(self, *, subject: str, before: int) -> int:
        row = (
            self._connection()
            .execute("SELECT COUNT(*) FROM calls WHERE subject = ? AND id < ?", (subject, before))
            .fetchone()
        )
        return int(row[0])

    def hold(self, kind: str, *, limit: int, seconds: float) -> int | None:
        """Take one of `limit` places of `kind`, shared by every process, for at most
        `seconds` (a holder that dies frees its place then); None when all are taken."""
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM holds WHERE until < ?", (now,))
            taken = db.execute("SELECT COUNT(*) FROM holds WHERE kind = ?", (kind,)).fetchone()[0]
            if taken >= limit:
                return None
            cursor = db.execute(
                "INSERT INTO holds (kind, until) VALUES (?, ?)", (kind, now + seconds)
            )
        return cursor.lastrowid

    def release_hold(self, hold_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM holds WHERE id = ?", (hold_id,))

    def unfinished(self, access_key: str) -> int:
        row = (
            self._connection()
            .execute(
                "SELECT COUNT(*) FROM tasks WHERE access_key = ? AND ready_at > ?",
                (access_key, time.time()),
            )
            .fetchone()
        )
        return int(row[0])

    # --- tasks ---------------------------------------------------------------------

    def add_task(self, task: Task) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO tasks (id, api, access_key, req_key, prompt, width, height, frames,"
                " created_at, ready_at, outcome, render_key, render_claimed_at, body, extra)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task.id,
                    task.api,
                    task.access_key,
                    task.req_key,
                    task.prompt,
                    task.width,
                    task.height,
                    task.frames,
                    task.created_at,
                    task.ready_at,
                    task.outcome,
                    task.render_key,
                    task.render_claimed_at,
                    task.body,
                    task.extra,
                ),
            )

    def get_task(self, task_id: str) -> Task | None:
        row = (
            self._connection()
            .execute(
                "SELECT tasks.*, renders.finished_at AS rendered_at FROM tasks"
                " LEFT JOIN renders ON renders.render_key = tasks.render_key WHERE id = ?",
                (task_id,),
            )
            .fetchone()
        )
        return Task(**dict(row)) if row else None

    def claim_render(self, task_id: str, *, stale_after: float) -> bool:
        """Take the job of rendering a task's video; False when someone has it."""
        now = time.time()
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE tasks SET render_claimed_at = ? WHERE id = ?"
                " AND (render_claimed_at IS NULL OR render_claimed_at < ?)",
                (now, task_id, now - stale_after),
            )
            return cursor.rowcount == 1

    def finish_render(self, render_key: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO renders (render_key, finished_at) VALUES (?, ?)",
                (render_key, time.time()),
            )

    def is_rendered(self, render_key: str) -> bool:
        row = (
            self._connection()
            .execute("SELECT 1 FROM renders WHERE render_key = ?", (render_key,))
            .fetchone()
        )
        return row is not None and (self.videos / f"{render_key}.mp4").exists()

    def set_task_time(self, task_id: str, field: str, value: float) -> bool:
        """Mark a task cancelled or deleted (Ark's DELETE), once."""
        assert field in ("cancelled_at", "deleted_at")
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE tasks SET {field} = ? WHERE id = ? AND {field} IS NULL",  # noqa: S608
                (value, task_id),
            )
            return cursor.rowcount == 1

    def recent_tasks(self, *, api: str, access_key: str, since: float) -> list[Task]:
        rows = self._connection().execute(
            "SELECT tasks.*, renders.finished_at AS rendered_at FROM tasks"
            " LEFT JOIN renders ON renders.render_key = tasks.render_key"
            " WHERE api = ? AND access_key = ? AND created_at >= ? AND deleted_at IS NULL"
            " ORDER BY created_at DESC, id DESC",
            (api, access_key, since),
        )
        return [Task(**dict(row)) for row in rows]

    # --- callbacks (Ark) -------------------------------------------------------------

    def add_callback(self, task_id: str, status: str, due_at: float) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO callbacks (task_id, status, due_at) VALUES (?, ?, ?)",
                (task_id, status, due_at),
            )

    def claim_callbacks(self, *, now: float, stale_after: float) -> list[sqlite3.Row]:
        """Due deliveries nobody else is making (a claim older than `stale_after` is a
        dead process's)."""
        with self.transaction() as db:
            rows = list(
                db.execute(
                    "SELECT * FROM callbacks WHERE delivered_at IS NULL AND due_at <= ?"
                    " AND (claimed_at IS NULL OR claimed_at < ?) ORDER BY due_at LIMIT 20",
                    (now, now - stale_after),
                )
            )
            for row in rows:
                db.execute("UPDATE callbacks SET claimed_at = ? WHERE id = ?", (now, row["id"]))
        return rows

    def finish_callback(self, callback_id: int, *, delivered: bool, retry_at: float | None) -> None:
        with self.transaction() as db:
            if delivered or retry_at is None:
                db.execute(
                    "UPDATE callbacks SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                    (time.time(), callback_id),
                )
            else:
                db.execute(
                    "UPDATE callbacks SET claimed_at = NULL, due_at = ?, attempts = attempts + 1"
                    " WHERE id = ?",
                    (retry_at, callback_id),
                )

    def postpone_callback(self, callback_id: int, due_at: float) -> None:
        """Not yet: the event it reports has not happened (a render still running)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE callbacks SET claimed_at = NULL, due_at = ? WHERE id = ?",
                (due_at, callback_id),
            )

    def callbacks(self) -> list[sqlite3.Row]:
        return list(self._connection().execute("SELECT * FROM callbacks ORDER BY id"))

    # --- audits (tests, benchmarks, chaos) ----------------------------------------

    def tasks(self) -> list[Task]:
        rows = self._connection().execute(
            "SELECT tasks.*, renders.finished_at AS rendered_at FROM tasks"
            " LEFT JOIN renders ON renders.render_key = tasks.render_key ORDER BY created_at"
        )
        return [Task(**dict(row)) for row in rows]

    def calls(self, action: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM calls"
        params: tuple[str, ...] = ()
        if action:
            sql += " WHERE action = ?"
            params = (action,)
        return list(self._connection().execute(sql + " ORDER BY id", params))

    def reset(self) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM tasks")
            db.execute("DELETE FROM calls")
            db.execute("DELETE FROM holds")
            db.execute("DELETE FROM callbacks")
