"""Keys tested as an admin would test them, to reproduce attacks on what the studio
connects to."""

from __future__ import annotations

from django.urls import reverse

from generations.models import Credential
from tests.local_http import SECRET_BODY

SECRET = SECRET_BODY.decode()


def connection_test_page(cast, credential: Credential) -> str:  # type: ignore[no-untyped-def]
    response = cast.client("admin").post(
        reverse("credential-test", args=["team-a", credential.pk]), follow=True
    )
    return response.content.decode()
