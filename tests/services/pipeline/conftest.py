"""Team A with a key on the emulator and a fast pipeline, for every stage's tests."""

from __future__ import annotations

import pytest

from tests.cast import add_credential
from tests.pipeline import FAST_PIPELINE


@pytest.fixture
def studio(cast, emulator, settings):
    """Team A with a key on the emulator, and a fast pipeline."""
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    add_credential(cast.team, emulator.volcengine_url)
    return cast
