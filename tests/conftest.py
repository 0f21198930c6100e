"""Shared fixtures: isolated paths, the emulator over real HTTP, and the browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings

from generations.jimeng.addresses import AddressRules, Place
from generations.jimeng.client import ArkClient, GatewayClient, Timeouts, VolcengineClient
from sandbox.store import Store
from sandbox.tasks import drain_renders

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls
# from a thread with a running loop unless told this is fine (it is, in tests).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).parent / "artifacts"
TEST_CREDENTIALS_KEYS = [
    "eXLtq9k1oDHNbYpbQPx3bg9JkQmlv2M5Zx1s1lM8b0A=",
    "Qv9Hc1sHyR2y0ZrWm2nEw8fQ0Qk3nV7o5yBzG6t4c2I=",
]
SANDBOX_AK = "AKLTsandboxAccessKey"
SANDBOX_SK = "sandbox-secret-key"
SANDBOX_GATEWAY_KEY = "sk-sandbox-gateway-key"
SANDBOX_ARK_KEY = "ark-sandbox-api-key"


@pytest.fixture(scope="session", autouse=True)
def _isolated_paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep media, emulator state and keys of the test run away from the developer's."""
    root = tmp_path_factory.mktemp("studio")
    (root / "static").mkdir()
    (root / "media").mkdir()

    overrides = override_settings(
        MEDIA_ROOT=root / "media",
        STATIC_ROOT=root / "static",
        SANDBOX_DIR=root / "sandbox",
        CREDENTIALS_KEYS=TEST_CREDENTIALS_KEYS,
        # Fast hashing: tests sign people in constantly and do not need slow hashes.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        SANDBOX_ACCESS_KEY=SANDBOX_AK,
        SANDBOX_SECRET_KEY=SANDBOX_SK,
        SANDBOX_GATEWAY_KEY=SANDBOX_GATEWAY_KEY,
        SANDBOX_ARK_KEY=SANDBOX_ARK_KEY,
        SANDBOX_GENERATION_SECONDS=0.6,
        SANDBOX_GENERATION_SECONDS_MAX=0.0,
        SANDBOX_QPS=0,
        SANDBOX_FAULT_50429=0.0,
        SANDBOX_FAULT_50500=0.0,
        SANDBOX_FAULT_SLOW=0.0,
        SANDBOX_FAULT_DROP=0.0,
        SANDBOX_SLOW_SECONDS=2.0,
        SANDBOX_URL_TTL_SECONDS=3600.0,
    )
    overrides.enable()
    yield root
    drain_renders()
    overrides.disable()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_shared_state(settings) -> None:  # type: ignore[no-untyped-def]
    """The cache and a Redis rate limiter outlive each test, unlike database rows."""
    from django.core.cache import cache

    cache.clear()
    if settings.LIMITER_REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.LIMITER_REDIS_URL)
        keys = list(client.scan_iter("jimeng:bucket:*"))
        if keys:
            client.delete(*keys)
    if "redis" in settings.Q_CLUSTER:
        # A Redis broker's queue is outside the database: tasks an earlier test queued
        # (and nobody ran) would be taken by this test's worker or `run_queued`.
        from django_q.brokers import get_broker

        get_broker().purge_queue()


@dataclass
class Emulator:
    base_url: str
    store: Store

    @property
    def rules(self) -> AddressRules:
        """The address rules with the emulator trusted, as the studio's are in tests."""
        return AddressRules(trusted=(Place.origin(f"{self.base_url}/sandbox/"),))

    @property
    def volcengine_url(self) -> str:
        return f"{self.base_url}/sandbox/volcengine/"

    @property
    def gateway_url(self) -> str:
        return f"{self.base_url}/sandbox/gateway"

    def volcengine(
        self, *, secret_key: str = SANDBOX_SK, query_timeout: float = 5.0
    ) -> VolcengineClient:
        return VolcengineClient(
            access_key=SANDBOX_AK,
            secret_key=secret_key,
            endpoint=self.volcengine_url,
            timeouts=Timeouts(connect=2.0, query=query_timeout, submit=10.0),
            sleep=lambda _: None,
            rules=self.rules,
        )

    def gateway(self, *, api_key: str = SANDBOX_GATEWAY_KEY) -> GatewayClient:
        return GatewayClient(
            api_key=api_key,
            base_url=self.gateway_url,
            timeouts=Timeouts(2, 5, 10),
            rules=self.rules,
        )

    @property
    def ark_url(self) -> str:
        return f"{self.base_url}/sandbox/ark/api/v3"

    def ark(self, *, api_key: str = SANDBOX_ARK_KEY) -> ArkClient:
        return ArkClient(
            api_key=api_key,
            base_url=self.ark_url,
            timeouts=Timeouts(2, 5, 10),
            sleep=lambda _: None,
            rules=self.rules,
        )

    def submits(self) -> int:
        return len(self.store.calls("submit"))


@pytest.fixture
def emulator(live_server, settings) -> Emulator:  # type: ignore[no-untyped-def]
    """The built-in emulator, served over real HTTP by the live server, emptied."""
    store = Store(Path(settings.SANDBOX_DIR))
    store.reset()
    # The address rules let keys reach loopback only at the emulator's own address.
    settings.SANDBOX_URL = f"{live_server.url}/sandbox/"
    return Emulator(live_server.url, store)


# --- browser (Playwright with Debian's Chromium) ------------------------------------

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:  # type: ignore[type-arg]
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make install-dev` as root to install it")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


from tests.cast import ark, cast, keyed  # noqa: E402,F401 - the shared cast fixtures
from tests.workers import start_worker  # noqa: E402,F401 - real qcluster processes
