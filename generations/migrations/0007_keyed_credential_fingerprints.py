"""Credential fingerprints were a bare sha256 of endpoint and key; recompute them as an
HMAC keyed with the server secret (generations.models.credential_fingerprint)."""

from django.db import migrations


def rekey(apps, schema_editor):  # type: ignore[no-untyped-def]
    from generations import crypto
    from generations.models import credential_fingerprint

    Credential = apps.get_model("generations", "Credential")
    for credential in Credential.objects.all():
        try:
            secret = crypto.decrypt(credential.secret_encrypted)
            access_key = (
                crypto.decrypt(credential.access_key_encrypted)
                if credential.access_key_encrypted
                else ""
            )
        except crypto.UndecryptableSecret:
            continue  # rotate_credentials_key or a new key fixes it; the fingerprint can wait
        credential.fingerprint = credential_fingerprint(
            kind=credential.kind, endpoint=credential.endpoint, key=access_key or secret
        )
        credential.save(update_fields=["fingerprint"])


class Migration(migrations.Migration):
    dependencies = [("generations", "0006_upstream_running_at")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
