"""Upstream keys (encrypted, fingerprinted), where they may be sent, and prices."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from generations import crypto
from generations.jimeng import catalog
from generations.jimeng.addresses import OFFICIAL_API_HOSTS, AddressRules, Place
from generations.jimeng.client import (
    ArkClient,
    GatewayClient,
    Timeouts,
    UpstreamClient,
    VolcengineClient,
)
from generations.models.teams import Team

# --- where keys may be sent (docs/security.md) -------------------------------------------
# The official API hosts and those an operator lists in UPSTREAM_ALLOWED_HOSTS; the
# built-in emulator (SANDBOX_URL) is the one place allowed on a loopback or private
# address. The same rules govern video downloads.


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


# --- upstream credentials -----------------------------------------------------------


@sensitive_variables("key")
def credential_fingerprint(*, kind: str, endpoint: str, key: str) -> str:
    """Names an upstream account (for the shared rate bucket, upstream_rate.py) without
    storing anything that could be tested against a guessed key: an HMAC keyed with the
    server secret."""
    message = f"{kind}\n{endpoint.strip()}\n{key}"
    return salted_hmac("jimeng.credential-fingerprint", message, algorithm="sha256").hexdigest()


class CredentialKind(models.TextChoices):
    VOLCENGINE = "volcengine", _("Volcengine AK/SK")
    GATEWAY = "gateway", _("Gateway Bearer key")
    ARK = "ark", _("Ark API key")

    @property
    def provider(self) -> catalog.Provider:
        return catalog.Provider(self.value)


class Credential(models.Model):
    """An upstream key pair (or Bearer key), encrypted at rest with CREDENTIALS_KEYS."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="credentials")
    kind = models.CharField(_("kind"), max_length=12, choices=CredentialKind.choices)
    label = models.CharField(_("label"), max_length=60)
    endpoint = models.CharField(_("endpoint"), max_length=300)  # checked by the forms

    access_key_encrypted = models.TextField(blank=True)
    secret_encrypted = models.TextField()
    # Names the upstream account for the shared rate limiter (credential_fingerprint).
    fingerprint = models.CharField(max_length=64, db_index=True)
    max_qps = models.FloatField(
        _("requests per second"),
        null=True,
        blank=True,
        help_text=_("Upstream QPS for this key; empty uses the site default."),
    )
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_test_message = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")
        ordering = ["-is_default", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(is_default=True), name="one_default_credential"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_kind_display()})"

    def __repr__(self) -> str:
        return f"<Credential {self.pk} {self.kind} {self.label!r}>"

    @method_decorator(sensitive_variables("access_key", "secret"))
    def set_secrets(self, *, access_key: str, secret: str) -> None:
        """Encrypt the keys and name the upstream account they belong to. Call it after
        setting the kind and endpoint: the fingerprint covers them too."""
        self.access_key_encrypted = crypto.encrypt(access_key) if access_key else ""
        self.secret_encrypted = crypto.encrypt(secret)
        self.fingerprint = credential_fingerprint(
            kind=self.kind, endpoint=self.endpoint, key=access_key or secret
        )

    @property
    def access_key(self) -> str:
        return crypto.decrypt(self.access_key_encrypted) if self.access_key_encrypted else ""

    def masked_access_key(self) -> str:
        return crypto.mask(self.access_key) if self.access_key_encrypted else ""

    def masked_secret(self) -> str:
        return crypto.mask(crypto.decrypt(self.secret_encrypted))

    def qps(self) -> float:
        return float(self.max_qps or settings.UPSTREAM_QPS)

    @method_decorator(sensitive_variables("secret"))
    def client(self, *, query_timeout: float | None = None) -> UpstreamClient:
        timeouts = Timeouts(
            connect=settings.JIMENG_CONNECT_TIMEOUT,
            query=query_timeout or settings.JIMENG_QUERY_TIMEOUT,
            submit=settings.JIMENG_SUBMIT_TIMEOUT,
        )
        secret = crypto.decrypt(self.secret_encrypted)
        rules = address_rules()
        if self.kind == CredentialKind.GATEWAY:
            return GatewayClient(
                api_key=secret, base_url=self.endpoint, timeouts=timeouts, rules=rules
            )
        if self.kind == CredentialKind.ARK:
            return ArkClient(api_key=secret, base_url=self.endpoint, timeouts=timeouts, rules=rules)
        return VolcengineClient(
            access_key=self.access_key,
            secret_key=secret,
            endpoint=self.endpoint,
            timeouts=timeouts,
            rules=rules,
        )

    def modes(self) -> list[catalog.Mode]:
        """The catalog modes this credential can run."""
        provider = CredentialKind(self.kind).provider
        return [mode for mode in catalog.MODES.values() if mode.provider == provider]

    def record_test(self, *, ok: bool, message: str) -> None:
        self.last_tested_at = timezone.now()
        self.last_test_ok = ok
        self.last_test_message = message[:300]
        self.save(update_fields=["last_tested_at", "last_test_ok", "last_test_message"])


# --- prices -------------------------------------------------------------------------


class PriceQuerySet(models.QuerySet["Price"]):
    def table(self) -> dict[str, catalog.Price]:
        """Every catalog price, with operators' edits over the defaults."""
        prices = dict(catalog.DEFAULT_PRICES)
        for row in self.all():
            prices[row.key] = catalog.Price(
                row.key, row.cny_per_second, row.is_estimate, row.cny_per_million_tokens
            )
        return prices

    def retired(self, today: date) -> dict[str, date]:
        """The price keys (models) an operator retired by `today`, with their dates."""
        rows = self.filter(retires_on__lte=today).values_list("key", "retires_on")
        return {key: retires_on for key, retires_on in rows if retires_on is not None}


class Price(models.Model):
    key = models.CharField(_("model key"), max_length=80, unique=True)
    cny_per_second = models.DecimalField(_("CNY per second"), max_digits=8, decimal_places=3)
    cny_per_million_tokens = models.DecimalField(
        _("CNY per million tokens"),
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Ark models are billed per token; their CNY per second is 0."),
    )
    is_estimate = models.BooleanField(
        _("estimate"), default=True, help_text=_("Shown to users as an estimate.")
    )
    # The vendor retires models; operators record the day (new jobs stop, old ones stay).
    retires_on = models.DateField(
        _("retired from"),
        null=True,
        blank=True,
        help_text=_("From this day new jobs may not use this model; earlier jobs keep it."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = PriceQuerySet.as_manager()

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}: {self.cny_per_second} CNY/s"
