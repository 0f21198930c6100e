"""Media on S3: moto's server on 127.0.0.1 stands in for any S3-compatible store. A video
is archived there by the real pipeline, served by a presigned URL, and seeked with a
Range request."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
import requests
from django.core.files.storage import storages

from generations.models import Status
from tests.cast import add_credential
from tests.pipeline import FAST_PIPELINE, drive, make_job

BUCKET = "studio-media"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    settings.MEDIA_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "querystring_auth": True,
                "querystring_expire": 300,
                "file_overwrite": True,
                "default_acl": None,
                "addressing_style": "path",
                "signature_version": "s3v4",
            },
        },
    }
    storages._storages.pop("default", None)  # the storage object was built for local disk
    yield endpoint
    storages._storages.pop("default", None)
    server.stop()


def test_video_archived_to_s3_is_served_presigned_and_seekable(
    cast, emulator, settings, s3
) -> None:
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    assert type(storages["default"]).__name__ == "S3Storage"
    add_credential(cast.team, emulator.volcengine_url)
    (job,) = drive([make_job(cast.team, "i2v_first_720p").pk])
    assert job.status == Status.READY
    objects = boto3.client(
        "s3",
        endpoint_url=s3,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).list_objects_v2(Bucket=BUCKET)
    keys = {item["Key"] for item in objects["Contents"]}
    assert {job.video.name, job.poster.name} <= keys  # the video never touched local disk
    assert any(key.startswith("uploads/") for key in keys)

    redirect = cast.client("viewer").get(f"/t/team-a/jobs/{job.pk}/video")
    url = redirect["Location"]
    assert redirect.status_code == 302 and url.startswith(s3) and "X-Amz-Signature=" in url
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and whole.content[4:8] == b"ftyp"
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole.content)}"
    assert part.content == whole.content[100:200]

    download = cast.client("viewer").get(f"/t/team-a/jobs/{job.pk}/download")["Location"]
    assert "attachment" in requests.get(download, timeout=10).headers["Content-Disposition"]
