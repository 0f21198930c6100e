"""Uploads are stored as what their bytes are and never served as a page."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from generations import media
from generations.models import (
    Generation,
)
from tests import images
from tests.cast import post_generate

pytestmark = pytest.mark.security


@pytest.mark.django_db
def test_a_polyglot_upload_is_stored_as_what_it_is_and_never_served_as_a_page(keyed) -> None:
    polyglot = images.solid(1280, 720, fmt="PNG") + b"<html><script>alert(document.cookie)</script>"
    upload = SimpleUploadedFile("poly.html", polyglot, content_type="text/html")
    member = keyed.client("member")
    response = post_generate(member, mode="i2v_first_720p", aspect_ratio="", first_image=upload)
    assert response.status_code == 302
    image = Generation.objects.get().images.get()
    assert image.original.name.endswith(".png") and "-original" in image.original.name
    assert image.original_name == "poly.html"
    url = reverse("job-media", args=["team-a", image.generation_id, "first-original"])
    served = member.get(url, follow=True)
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Disposition"].startswith("attachment;")
    fitted = member.get(url.replace("first-original", "first-fitted"), follow=True)
    assert fitted["Content-Type"] == "image/jpeg" and "Content-Disposition" not in fitted


@pytest.mark.django_db
def test_stored_files_of_unknown_type_are_downloads(keyed) -> None:
    name = default_storage.save("uploads/legacy/1-0-original.html", ContentFile(b"<script>"))
    response = Client().get(media.signed_url(name))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
