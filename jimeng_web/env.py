"""Typed readers for settings that come from the environment.

Every reader takes the variable name and its default, and raises
ImproperlyConfigured with the variable's name when the value cannot be used, so a
typo in a deployment fails at start-up rather than at the first request.

Any variable may instead be read from a file: `NAME_FILE=/run/secrets/name` (as
container secrets are mounted; a trailing line break is dropped). Setting both is an
error: which one would win is not obvious.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _read(name: str) -> str | None:
    """The variable's value, from the environment or from the file `NAME_FILE` names."""
    value, path = os.environ.get(name), os.environ.get(f"{name}_FILE")
    if path is None:
        return value
    if value is not None:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    try:
        return Path(path).read_text().removesuffix("\n")
    except OSError as error:
        raise ImproperlyConfigured(
            f"{name}_FILE names {path!r}, which cannot be read ({error.strerror})."
        ) from None


def env_str(name: str, default: str) -> str:
    value = _read(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    raw = _read(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = _read(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    raw = _read(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}")
    return value


def env_optional_decimal(name: str, default: str = "") -> Decimal | None:
    raw = env_str(name, default).strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number or empty, not {raw!r}") from None
    if value < 0:
        raise ImproperlyConfigured(f"{name} must not be negative")
    return value


def env_optional_int(name: str, default: str = "") -> int | None:
    raw = env_str(name, default).strip()
    return env_int(name, 0, minimum=0) if raw else None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def database_from_url(url: str, *, base_dir: Path) -> dict[str, object]:
    """Turn `sqlite:///path` or `postgres://user:pass@host:port/name` into DATABASES['default']."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        raw_path = unquote(parts.path)
        # sqlite:///relative.db has path "/relative.db"; sqlite:////abs.db has "//abs.db".
        path = Path(raw_path[1:]) if raw_path.startswith("/") else Path(raw_path)
        if not path.is_absolute():
            path = base_dir / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            "OPTIONS": {
                # Writers queue on BEGIN IMMEDIATE instead of failing half-way through a
                # read-then-write transaction; this is what serialises quota reservations.
                "transaction_mode": "IMMEDIATE",
                # How long a writer waits for the lock: sqlite:///db.sqlite3?timeout=5
                "timeout": float(options.get("timeout", "20")),
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
        }
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL must name a database, e.g. postgres://host/db")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL must start with sqlite:// or postgres://, not {parts.scheme!r}://"
    )


def redis_database_for_test_worker(url: str, worker: str) -> str:
    """The same Redis server with a database number of its own for a pytest-xdist worker.

    The test suite clears the cache, the rate limiter and the broker's queue before each
    test; two workers on one database would clear each other's. Worker `gwN` adds 4 × N
    to the database number (a set-up names at most four: broker, cache, limiter and one
    spare). Outside the test suite `worker` is empty and the URL is kept as it is.
    """
    if not worker or not url:
        return url
    if not worker.startswith("gw") or not worker[2:].isdigit():
        raise ImproperlyConfigured(f"PYTEST_XDIST_WORKER must look like gw0, not {worker!r}")
    parts = urlsplit(url)
    number = parts.path.strip("/") or "0"
    if not number.isdigit():
        raise ImproperlyConfigured(f"A Redis URL's path must be a database number: {url!r}")
    database = int(number) + 4 * int(worker[2:])
    return parts._replace(path=f"/{database}").geturl()
