"""The studio's address rules, read from the settings (docs/security.md).

Keys may point at the official API hosts and at the hosts an operator lists in
UPSTREAM_ALLOWED_HOSTS; the built-in emulator (SANDBOX_URL) is the one place allowed
to be on a loopback or private address. The same rules govern video downloads.
"""

from __future__ import annotations

from django.conf import settings

from generations.jimeng.addresses import OFFICIAL_API_HOSTS, AddressRules, Place


def address_rules(*extra_trusted: str) -> AddressRules:
    """The rules for this process; `extra_trusted` URLs (typed in by an operator on the
    command line) are trusted like the emulator."""
    urls = [settings.SANDBOX_URL, *extra_trusted] if settings.SANDBOX_URL else list(extra_trusted)
    return AddressRules(
        api_hosts=OFFICIAL_API_HOSTS | frozenset(settings.UPSTREAM_ALLOWED_HOSTS),
        trusted=tuple(Place.origin(url) for url in urls if url),
    )


def allowed_hosts_text() -> str:
    return ", ".join(sorted(OFFICIAL_API_HOSTS | set(settings.UPSTREAM_ALLOWED_HOSTS)))
