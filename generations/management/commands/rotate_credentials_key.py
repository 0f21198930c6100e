"""Re-encrypt every stored upstream secret under the newest key of CREDENTIALS_KEYS.

Rotation: put a new key first in CREDENTIALS_KEYS (keep the old ones after it), run this
command, then drop the old keys.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from generations import crypto
from generations.models import Credential


class Command(BaseCommand):
    help = "Re-encrypt all upstream credentials under the newest CREDENTIALS_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        try:
            with transaction.atomic():
                # NO KEY: jobs created meanwhile (their key-share lock on the credential) go on
                for credential in Credential.objects.select_for_update(no_key=True).order_by("pk"):
                    if credential.access_key_encrypted:
                        credential.access_key_encrypted = crypto.rotate(
                            credential.access_key_encrypted
                        )
                    credential.secret_encrypted = crypto.rotate(credential.secret_encrypted)
                    credential.save(update_fields=["access_key_encrypted", "secret_encrypted"])
                    count += 1
        except crypto.UndecryptableSecret as error:
            raise CommandError(f"{error}; nothing was changed") from None
        self.stdout.write(f"Re-encrypted {count} credential(s) under the newest key.")
