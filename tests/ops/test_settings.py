"""Settings from the environment, or from files as container secrets are mounted
(`SECRET_KEY_FILE`, `CREDENTIALS_KEYS_FILE`, any `NAME_FILE`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT

KEY = "eXLtq9k1oDHNbYpbQPx3bg9JkQmlv2M5Zx1s1lM8b0A="


def _settings(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECRET_KEY, s.CREDENTIALS_KEYS, s.DATABASES['default']['NAME']]))"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
        "DEBUG": "false",
        "DATA_DIR": str(tmp_path),
        **environment,
    }
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("s" * 60 + "\n")  # as `echo` writes it
    (tmp_path / "keys").write_text(f"{KEY}\n")
    database = tmp_path / "db-url"
    database.write_text(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    done = _settings(
        tmp_path,
        SECRET_KEY_FILE=str(tmp_path / "secret_key"),
        CREDENTIALS_KEYS_FILE=str(tmp_path / "keys"),
        DATABASE_URL_FILE=str(database),
    )
    assert done.returncode == 0, done.stderr
    secret, keys, name = json.loads(done.stdout)
    assert secret == "s" * 60 and keys == [KEY] and name.endswith("other.sqlite3")


def test_a_secret_and_its_file_together_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("s" * 60)
    done = _settings(
        tmp_path,
        SECRET_KEY="k" * 60,
        SECRET_KEY_FILE=str(tmp_path / "secret_key"),
        CREDENTIALS_KEYS=KEY,
    )
    assert done.returncode != 0 and "Set SECRET_KEY or SECRET_KEY_FILE, not both" in done.stderr


def test_a_secrets_file_that_cannot_be_read_is_refused_by_name(tmp_path: Path) -> None:
    done = _settings(tmp_path, SECRET_KEY_FILE=str(tmp_path / "missing"), CREDENTIALS_KEYS=KEY)
    assert done.returncode != 0
    assert "SECRET_KEY_FILE names" in done.stderr and "cannot be read" in done.stderr
    assert "Traceback" in done.stderr  # start-up stops; the secret itself is never printed


def test_the_generated_production_file_gives_way_to_a_secrets_file(tmp_path: Path) -> None:
    """make serve sources var/production.env: its generated key must not clash with a
    SECRET_KEY_FILE the deployment mounts."""
    root = ROOT
    env = {
        "PATH": os.environ["PATH"],
        "DATA_DIR": str(tmp_path),
        "PY": sys.executable,
    }
    made = subprocess.run(
        [str(root / "tools" / "production-env")], env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    script = f'set -a; . "{made.stdout.strip()}"; set +a; echo "${{SECRET_KEY:-none}}"'
    mounted = subprocess.run(
        ["sh", "-c", script], env={**env, "SECRET_KEY_FILE": "/run/secrets/key"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert mounted.stdout.strip() == "none"
    generated = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
    assert len(generated.stdout.strip()) > 40


def test_each_test_worker_gets_redis_databases_of_its_own() -> None:
    """The suite clears the cache, the limiter and the broker's queue before every test;
    under pytest-xdist two workers on one Redis database would clear each other's."""
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from jimeng_web.env import redis_database_for_test_worker as for_worker

    assert for_worker("redis://127.0.0.1:6379/1", "") == "redis://127.0.0.1:6379/1"
    assert for_worker("redis://127.0.0.1:6379/1", "gw0") == "redis://127.0.0.1:6379/1"
    assert for_worker("redis://127.0.0.1:6379/1", "gw1") == "redis://127.0.0.1:6379/5"
    assert for_worker("redis://:pw@10.0.0.5:6379", "gw2") == "redis://:pw@10.0.0.5:6379/8"
    assert for_worker("", "gw1") == ""
    with pytest.raises(ImproperlyConfigured, match="database number"):
        for_worker("redis://127.0.0.1:6379/cache", "gw1")


def test_settings_give_a_test_worker_its_own_broker_cache_and_limiter(tmp_path: Path) -> None:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.REDIS_URL, s.CACHE_URL, s.LIMITER_REDIS_URL, s.Q_CLUSTER['redis']]))"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
        "DATA_DIR": str(tmp_path),
        "Q_BROKER": "redis",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "PYTEST_XDIST_WORKER": "gw1",
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        "redis://127.0.0.1:6379/4",
        "redis://127.0.0.1:6379/5",
        "redis://127.0.0.1:6379/4",
        "redis://127.0.0.1:6379/4",
    ]
