"""Values typed into URLs and bodies, read strictly: what `str.isdigit()` and `int()` let
through ('²', '٣', a 3,000-digit number) must become a clear refusal, not a 500 from
the database or from Python's own limits."""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _

# A row id fits the databases' 64-bit integers: at most 18 digits keeps far inside them.
ID_DIGITS = 18


def parse_id(text: str) -> int | None:
    """A row id from text, or None: ASCII digits only (`isdigit()` also takes '²')."""
    text = text.strip()
    if not (0 < len(text) <= ID_DIGITS and text.isascii() and text.isdigit()):
        return None
    return int(text)


def parse_ids(text: str, *, limit: int) -> list[int] | None:
    """Comma-separated ids (empty parts skipped), or None if any part is not an id or
    there are more than `limit`."""
    parts = [part for part in text.split(",") if part.strip()]
    if len(parts) > limit:
        return None
    ids = [parse_id(part) for part in parts]
    return None if any(pk is None for pk in ids) else [pk for pk in ids if pk is not None]


class NotJson(ValueError):
    """Why a text could not be read as JSON (in words for people)."""


def strict_json(text: str | bytes) -> Any:
    """JSON that can be stored and shown: nesting within Python's limits, and text that
    is Unicode (no lone surrogate such as \\ud800, which no database takes)."""
    deep = _("The JSON is nested too deeply.")
    try:
        value = json.loads(text)
    except RecursionError:
        raise NotJson(deep) from None
    except (ValueError, UnicodeDecodeError):
        raise NotJson(_("The body is not valid JSON.")) from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise NotJson(
            _("The JSON holds text that is not valid Unicode (a lone surrogate such as \\ud800).")
        ) from None
    except RecursionError:
        raise NotJson(deep) from None
    return value
