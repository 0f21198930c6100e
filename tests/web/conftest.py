"""Fixtures the pages' tests share."""

from __future__ import annotations

import pytest

from tests.web.routes import team_objects


@pytest.fixture
def routed(cast):  # type: ignore[no-untyped-def]
    """The cast, and a team's objects to fill the URLs with."""
    return cast, team_objects(cast.team)
