"""The studio's own refusal: a request that breaks a rule."""

from __future__ import annotations


class Refused(Exception):
    """A request that breaks a rule; the message is for the user, translated."""
