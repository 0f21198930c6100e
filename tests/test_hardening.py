"""Each attack from the security review, reproduced: SSRF through keys, video links and
the emulator; the emulator's resource limits; pulling a stored key out; polyglot
uploads; and the smaller holes. Every test here failed on the code before the fix."""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import pytest
from django.apps import apps
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from generations import crypto, media
from generations.admin import CredentialAdminForm
from generations.forms.keys import CredentialForm
from generations.jimeng import png_bands, transport
from generations.jimeng.addresses import AddressRules
from generations.jimeng.client import GatewayClient, VolcengineClient
from generations.jimeng.errors import JimengError
from generations.jimeng.images import ImageRejected, fit_image
from generations.models import (
    Credential,
    CredentialKind,
    Generation,
    ShareLink,
    Status,
    Throttle,
    credential_fingerprint,
)
from generations.services import pipeline
from generations.services.keys import describe_upstream_error
from sandbox import render
from sandbox.tasks import drain_renders
from tests import images
from tests.cast import PASSWORD, add_credential, make_user, post_generate
from tests.conftest import SANDBOX_AK, SANDBOX_SK
from tests.local_http import SECRET_BODY, local_server
from tests.pipeline import make_job, mark_ready

pytestmark = pytest.mark.security
ROOT = Path(__file__).resolve().parent.parent
SECRET = SECRET_BODY.decode()


def _create_key(client: Client, endpoint: str) -> object:
    return client.post(
        reverse("credential-create", args=["team-a"]),
        {
            "kind": "volcengine",
            "label": "Probe",
            "endpoint": endpoint,
            "access_key": "AKLTattacker",
            "secret": "attacker-secret",
            "max_qps": "",
        },
    )


def _test_connection(cast, credential: Credential) -> str:  # type: ignore[no-untyped-def]
    response = cast.client("admin").post(
        reverse("credential-test", args=["team-a", credential.pk]), follow=True
    )
    return response.content.decode()


# --- server-side request forgery -----------------------------------------------------


@pytest.mark.django_db
def test_a_key_cannot_point_at_an_internal_address(cast) -> None:
    with local_server() as internal:
        response = _create_key(cast.client("admin"), f"{internal.url}/")
        assert response.status_code == 200
        assert "official API hosts" in response.content.decode()
        assert not Credential.objects.exists() and internal.hits == []


ESCAPES = (
    "/sandbox/../../healthz#",
    "/sandbox/../admin/",
    "/sandbox/../api/v1",
    "/sandbox/%2e%2e/admin/",
    "/sandbox/.%2E/api/v1/",
    "/sandbox/%252e%252e/admin/",
    "/sandbox/..%5cadmin/",
    "/sandbox/volcengine/./../../admin/",
)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ESCAPES)
def test_a_key_cannot_leave_the_emulators_paths_by_dot_segments(cast, settings, path) -> None:
    """The form checked that the literal path starts with the emulator's prefix, and the
    HTTP client resolved the dots: Test connection then called any path on that host
    with the team's stored key and echoed part of the answer."""
    with local_server() as emulator_host:
        settings.SANDBOX_URL = f"{emulator_host.url}/sandbox/"
        response = _create_key(cast.client("admin"), f"{emulator_host.url}{path}")
        assert response.status_code == 200 and not Credential.objects.exists()
        assert "path segments" in response.content.decode() or "without ? or #" in (
            response.content.decode()
        )
        # A key stored before the rule is refused when it is used.
        credential = add_credential(cast.team, f"{emulator_host.url}{path}")
        page = _test_connection(cast, credential)
        assert emulator_host.hits == [] and SECRET_BODY.decode() not in page


@pytest.mark.django_db
def test_test_connection_never_calls_an_internal_address(cast) -> None:
    """A key saved before the rules (or under a wider allow-list) is refused when used."""
    with local_server() as internal:
        credential = add_credential(cast.team, f"{internal.url}/")
        page = _test_connection(cast, credential)
    assert internal.hits == []
    assert SECRET not in page and "may not be used" in page


@pytest.mark.django_db
def test_an_allowed_host_resolving_to_loopback_is_refused_when_connecting(cast, settings) -> None:
    """DNS rebinding: the name passes the host rules, its address does not."""
    settings.UPSTREAM_ALLOWED_HOSTS = ["localhost"]
    with local_server() as internal:
        endpoint = f"http://localhost:{internal.port}/"
        assert _create_key(cast.client("admin"), endpoint).status_code == 302  # host allowed
        page = _test_connection(cast, Credential.objects.get())
    assert internal.hits == []
    assert SECRET not in page and "resolves to a loopback or private address" in page


@pytest.mark.django_db
def test_api_calls_follow_no_redirects(cast, settings) -> None:
    with local_server() as internal:
        to_inside = {"Location": f"{internal.url}/steal"}
        with local_server(lambda path: (307, to_inside, b"")) as redirector:
            settings.SANDBOX_URL = f"{redirector.url}/sandbox/"
            credential = add_credential(cast.team, f"{redirector.url}/sandbox/volcengine/")
            page = _test_connection(cast, credential)
    assert len(redirector.hits) == 1 and internal.hits == []
    assert SECRET not in page


def _downloading(team, video_url: str) -> Generation:  # type: ignore[no-untyped-def]
    job = make_job(team)
    Generation.objects.filter(pk=job.pk).update(status=Status.DOWNLOADING, video_url=video_url)
    return job


def _mp4(tmp_path: Path) -> bytes:
    path = tmp_path / "clip.mp4"
    render.render(path, width=320, height=240, frames=25, prompt="clip", images=[])
    return path.read_bytes()


@pytest.mark.django_db
def test_a_video_link_on_an_internal_address_is_not_fetched(keyed) -> None:
    with local_server() as internal:
        job = _downloading(keyed.team, f"{internal.url}/video.mp4")
        pipeline.archive(job.pk)
    job.refresh_from_db()
    assert internal.hits == []
    assert job.status == Status.FAILED and job.failure_code == "address_refused"
    assert "private or internal address" in job.failure_reason


@pytest.mark.django_db
def test_a_video_link_redirecting_inside_is_not_followed(keyed, settings) -> None:
    with local_server() as internal:
        to_inside = {"Location": f"{internal.url}/video.mp4"}
        with local_server(lambda path: (302, to_inside, b"")) as redirector:
            settings.SANDBOX_URL = f"{redirector.url}/sandbox/"
            job = _downloading(keyed.team, f"{redirector.url}/sandbox/files/a.mp4")
            pipeline.archive(job.pk)
    job.refresh_from_db()
    assert len(redirector.hits) == 1 and internal.hits == []
    assert job.status == Status.FAILED and job.failure_code == "address_refused"


@pytest.mark.django_db
@pytest.mark.parametrize(("hops", "status"), [(3, Status.READY), (4, Status.FAILED)])
def test_a_video_link_may_redirect_a_few_times(keyed, settings, tmp_path, hops, status) -> None:
    video = _mp4(tmp_path)

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        step = int(path.rsplit("/", 1)[-1])
        if step < hops:
            return 302, {"Location": f"/sandbox/hop/{step + 1}"}, b""
        return 200, {"Content-Type": "video/mp4"}, video

    with local_server(answer) as host:
        settings.SANDBOX_URL = f"{host.url}/sandbox/"
        job = _downloading(keyed.team, f"{host.url}/sandbox/hop/0")
        pipeline.archive(job.pk)
    job.refresh_from_db()
    assert job.status == status
    assert len(host.hits) == min(hops, transport.MAX_REDIRECTS) + 1


def test_words_from_hosts_other_than_the_official_api_are_never_shown() -> None:
    """Error mapping, so the transport is patched: a host on the operator's allow-list
    answers with whatever an internal service would say."""
    gateway = GatewayClient(
        api_key="k",
        base_url="https://gw.example.com",
        rules=AddressRules(api_hosts=frozenset({"gw.example.com"})),
    )
    official = VolcengineClient(access_key="AK", secret_key="SK")
    leaky = [
        transport.HttpResponse(502, SECRET_BODY),
        transport.HttpResponse(400, json.dumps({"error": {"message": SECRET}}).encode()),
        transport.HttpResponse(
            200, json.dumps({"id": "t1", "status": "failed", "error": {"message": SECRET}}).encode()
        ),
    ]
    with mock.patch.object(transport, "send", autospec=True, side_effect=leaky):
        for call in (lambda: gateway.submit({}), lambda: gateway.submit({})):
            with pytest.raises(JimengError) as caught:
                call()
            text = describe_upstream_error(caught.value, "https://gw.example.com")
            assert SECRET not in str(caught.value) and SECRET not in text
        failed = gateway.get_result(task_id="t1")
        assert failed.failure_message == ""
    answer = {"code": 50412, "message": "Text Risk Not Pass", "data": None}
    refusal = transport.HttpResponse(400, json.dumps(answer).encode())
    with (
        mock.patch.object(transport, "send", autospec=True, return_value=refusal),
        pytest.raises(JimengError) as caught,
    ):
        official.submit({})
    assert "Text Risk Not Pass" in str(caught.value)  # the vendor's own words are kept


# --- the emulator ----------------------------------------------------------------------


def _settings_of(**environment: str) -> dict[str, object]:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.SANDBOX_ENABLED, s.SANDBOX_URL]))"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
        "SECRET_KEY": "k" * 60,
        "CREDENTIALS_KEYS": "eXLtq9k1oDHNbYpbQPx3bg9JkQmlv2M5Zx1s1lM8b0A=",
        **environment,
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    debug, enabled, url = json.loads(out.stdout)
    return {"debug": debug, "enabled": enabled, "url": url}


def test_the_emulator_is_off_in_production_and_warns_when_turned_on(tmp_path: Path) -> None:
    data = {"DATA_DIR": str(tmp_path)}
    assert _settings_of(DEBUG="false", **data) == {"debug": False, "enabled": False, "url": ""}
    assert _settings_of(DEBUG="true", **data)["enabled"] is True
    env = {
        **os.environ,
        **data,
        "DEBUG": "false",
        "SANDBOX_ENABLED": "true",
        "SECRET_KEY": "k" * 60,
        "CREDENTIALS_KEYS": "eXLtq9k1oDHNbYpbQPx3bg9JkQmlv2M5Zx1s1lM8b0A=",
    }
    check = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "jimeng.W001" in check.stderr + check.stdout
    makefile = (ROOT / "Makefile").read_text()
    production = makefile.split("PROD_ENV =", 1)[1].split("\n\n", 1)[0]
    assert "SANDBOX_ENABLED" not in production.replace("SANDBOX_ENABLED=true turns", "")


def test_a_huge_declared_image_is_refused_before_it_is_decoded(emulator) -> None:
    """13300 × 13300 declared in a few kB: checked from the header, before any pixel is
    decoded. The data after the first rows is spoiled: had the pixels been decoded
    first, the answer would call the file unreadable instead of naming its size."""
    bomb = base64.b64encode(images.png_bomb(13300, 13300, broken=True)).decode()
    client = emulator.gateway()
    body = {"model": "doubao-seedance-1-0-pro-250528", "prompt": "p", "images": [bomb]}
    with pytest.raises(JimengError) as caught:
        client.submit(body)
    assert caught.value.http_status == 400 and "13300x13300" in caught.value.message
    volcengine = emulator.volcengine()
    with pytest.raises(JimengError) as caught:
        volcengine.submit({"req_key": "jimeng_i2v_first_v30", "binary_data_base64": [bomb]})
    assert caught.value.code == 50200 and "13300x13300" in caught.value.message


def test_checking_a_complete_image_bomb_takes_no_memory(tmp_path: Path) -> None:
    """The attack itself: a complete 0.17 MB PNG of 13300 × 13300 took the checking
    process up by 700 MB. In a fresh process, its peak now stays near its start."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(images.png_bomb(13300, 13300, rows=13300))
    code = (
        "import resource, sys; from sandbox.validate import Refusal, check_image\n"
        "start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    check_image(open(sys.argv[1], 'rb').read(), 'x')\n"
        "except Refusal as refusal:\n    print(refusal.message)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) // 1024)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "jimeng_web.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(bomb)], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert "13300x13300" in out[0]
    assert int(out[1]) < 50, f"checking the bomb grew the process by {out[1]} MB"


def test_image_urls_are_never_downloaded_by_the_emulator(emulator) -> None:
    with local_server() as internal:
        with pytest.raises(JimengError) as caught:
            emulator.volcengine().submit(
                {"req_key": "jimeng_i2v_first_v30", "image_urls": [f"{internal.url}/a.jpg"]}
            )
        assert caught.value.code == 50200 and "sample images" in caught.value.message
        gateway = {
            "model": "doubao-seedance-1-0-pro-250528",
            "prompt": "p",
            "images": [f"{internal.url}/b.png"],
        }
        with pytest.raises(JimengError):
            emulator.gateway().submit(gateway)
        assert internal.hits == []
    sample = f"{emulator.base_url}/sandbox/samples/portrait.jpg"
    accepted = emulator.volcengine().submit(
        {"req_key": "jimeng_i2v_first_v30", "image_urls": [sample]}
    )
    assert accepted.task_id


def test_slow_faults_tie_up_one_worker_at_most(emulator, settings) -> None:
    settings.SANDBOX_SLOW_SECONDS = 1.5
    settings.SANDBOX_MAX_SLOW_ANSWERS = 1
    outcomes: list[object] = []

    def submit(number: int) -> None:
        body = {"req_key": "jimeng_t2v_v30", "prompt": f"{number} [sandbox:submit-faults=slow]"}
        try:
            outcomes.append(emulator.volcengine().submit(body).task_id)
        except JimengError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes, key=str).count(50429) == 1, outcomes
    assert sum(isinstance(outcome, str) for outcome in outcomes) == 1


def test_the_render_queue_is_bounded(emulator, settings) -> None:
    drain_renders()  # renders of earlier tests share this process
    settings.SANDBOX_RENDER_QUEUE = 1
    client = emulator.volcengine()
    long = {"req_key": "jimeng_t2v_v30_1080p", "prompt": "a long render", "frames": 241}
    assert client.submit(long).task_id
    with pytest.raises(JimengError) as caught:
        client.submit({"req_key": "jimeng_t2v_v30", "prompt": "another"})
    assert caught.value.code == 50430


# --- pulling a stored key out ------------------------------------------------------------


@pytest.mark.django_db
def test_moving_a_key_needs_its_secret_again(cast) -> None:
    credential = add_credential(cast.team, "https://visual.volcengineapi.com")
    form = {"label": "Main key", "access_key": "", "secret": "", "max_qps": ""}
    url = reverse("credential-edit", args=["team-a", credential.pk])
    moved = cast.client("admin").post(
        url, {**form, "endpoint": "https://ark.cn-beijing.volces.com"}
    )
    assert moved.status_code == 200 and "enter the key again" in moved.content.decode()
    credential.refresh_from_db()
    assert credential.endpoint == "https://visual.volcengineapi.com"
    renamed = cast.client("admin").post(url, {**form, "endpoint": credential.endpoint})
    assert renamed.status_code == 302  # the same address keeps the saved key


@pytest.mark.django_db
def test_the_admin_saves_keys_through_the_team_form(cast) -> None:
    assert issubclass(CredentialAdminForm, CredentialForm)
    credential = add_credential(cast.team, "https://visual.volcengineapi.com")
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    url = reverse("admin:generations_credential_change", args=[credential.pk])
    fields = {"team": cast.team.pk, "label": "Main key", "max_qps": "", "access_key": ""}
    moved = {**fields, "kind": "gateway", "endpoint": "https://ark.cn-beijing.volces.com"}
    assert operator.post(url, {**moved, "secret": ""}).status_code == 200  # refused
    credential.refresh_from_db()
    assert credential.kind == CredentialKind.VOLCENGINE
    operator.post(url, {**moved, "secret": "new-bearer-key"})
    credential.refresh_from_db()
    assert credential.kind == CredentialKind.GATEWAY
    assert credential.fingerprint == credential_fingerprint(
        kind="gateway", endpoint="https://ark.cn-beijing.volces.com", key="new-bearer-key"
    )


@pytest.mark.django_db
def test_fingerprints_are_keyed_with_the_server_secret(cast, settings) -> None:
    credential = add_credential(cast.team, "https://visual.volcengineapi.com")
    bare = hashlib.sha256(f"{credential.endpoint}\n{SANDBOX_AK}".encode()).hexdigest()
    assert credential.fingerprint != bare
    settings.SECRET_KEY = "another-" + "x" * 50
    again = credential_fingerprint(
        kind=credential.kind, endpoint=credential.endpoint, key=SANDBOX_AK
    )
    assert again != credential.fingerprint
    # The migration rekeys rows saved with a bare sha256.
    Credential.objects.filter(pk=credential.pk).update(fingerprint=bare)
    rekeying = importlib.import_module("generations.migrations.0007_keyed_credential_fingerprints")
    rekeying.rekey(apps, None)
    credential.refresh_from_db()
    assert credential.fingerprint == again
    assert crypto.decrypt(credential.secret_encrypted) == SANDBOX_SK


# --- uploads ---------------------------------------------------------------------------------


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


# --- the smaller holes ---------------------------------------------------------------------


@pytest.mark.django_db
def test_range_headers_of_any_shape_never_fail(keyed) -> None:
    job = mark_ready(make_job(keyed.team), video=b"0123456789" * 10)
    url = media.signed_url(job.video.name)
    cases = {
        "bytes=" + "9" * 5000 + "-": 200,  # 500 before: int() of 5000 digits
        "bytes=0-1,4-5": 200,  # several ranges: ignored, the whole file
        "bytes=0-3": 206,
        "bytes=500-": 416,
    }
    for header, status in cases.items():
        response = Client().get(url, HTTP_RANGE=header)
        assert response.status_code == status, header[:20]
    assert b"".join(Client().get(url, HTTP_RANGE="bytes=0-3").streaming_content) == b"0123"


@pytest.mark.django_db
def test_sign_in_counts_are_shared_by_every_process(settings) -> None:
    from django.core.cache import cache

    settings.SIGNIN_LIMIT_PER_ACCOUNT = 3
    make_user("ana")
    for _ in range(3):
        Client().post(reverse("login"), {"username": "ana", "password": "wrong"})
        cache.clear()  # each gunicorn worker has its own memory: the count must not live there
    refused = Client().post(reverse("login"), {"username": "ana", "password": PASSWORD})
    assert refused.status_code == 429 and Throttle.objects.exists()


@pytest.mark.django_db
def test_the_client_address_is_read_from_the_right_of_forwarded_for(settings) -> None:
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.SIGNIN_LIMIT_PER_ACCOUNT = 3
    make_user("ana")
    for number in range(3):  # the guesser makes up a new left-most value each time
        Client(HTTP_X_FORWARDED_FOR=f"1.2.3.{number}, 10.0.0.9").post(
            reverse("login"), {"username": "ana", "password": "wrong"}
        )
    spoofed = Client(HTTP_X_FORWARDED_FOR="9.9.9.9, 10.0.0.9")
    assert (
        spoofed.post(reverse("login"), {"username": "ana", "password": PASSWORD}).status_code == 429
    )
    owner = Client(HTTP_X_FORWARDED_FOR="1.2.3.0, 10.0.0.8")
    assert (
        owner.post(reverse("login"), {"username": "ana", "password": PASSWORD}).status_code == 302
    )


def _sign_up(username: str, email: str, address: str = "10.1.1.1"):  # type: ignore[no-untyped-def]
    return Client(REMOTE_ADDR=address).post(
        reverse("signup"),
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )


@pytest.mark.django_db
def test_sign_up_does_not_reveal_registered_emails() -> None:
    make_user("taken")  # taken@example.com
    existing = _sign_up("newcomer", "taken@example.com")
    fresh = _sign_up("stranger", "fresh@example.com", "10.1.1.2")
    assert existing.status_code == fresh.status_code == 200
    assert existing.redirect_chain == fresh.redirect_chain
    assert [str(m) for m in existing.context["messages"]] == [
        str(m) for m in fresh.context["messages"]
    ]
    assert [message.to for message in mail.outbox] == [["taken@example.com"]]
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="newcomer").email == ""


@pytest.mark.django_db
def test_sign_up_is_throttled_per_address(settings) -> None:
    settings.SIGNUP_LIMIT_PER_IP = 2
    assert _sign_up("one", "one@example.com").status_code == 200
    assert _sign_up("two", "two@example.com").status_code == 200
    third = _sign_up("three", "three@example.com")
    assert third.status_code == 429 and "Too many attempts" in third.content.decode()
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="three").exists()


@pytest.mark.django_db
def test_password_reset_is_throttled(settings) -> None:
    settings.PASSWORD_RESET_LIMIT_PER_IP = 2
    settings.PASSWORD_RESET_LIMIT_PER_EMAIL = 1
    make_user("ana")
    url = reverse("password_reset")
    first = Client(REMOTE_ADDR="10.2.2.2").post(url, {"email": "ana@example.com"})
    again = Client(REMOTE_ADDR="10.2.2.3").post(url, {"email": "ana@example.com"})
    assert first.status_code == again.status_code == 302  # the same page either way...
    assert len(mail.outbox) == 1  # ...but one mail an hour to one address
    Client(REMOTE_ADDR="10.2.2.2").post(url, {"email": "x@example.com"})
    refused = Client(REMOTE_ADDR="10.2.2.2").post(url, {"email": "y@example.com"})
    assert refused.status_code == 429


@pytest.mark.django_db
def test_cancel_never_redirects_off_site(keyed) -> None:
    job = make_job(keyed.team)
    url = reverse("job-cancel", args=["team-a", job.pk])
    response = keyed.client("member").post(url, {"next": "https://evil.example/phish"})
    assert response["Location"] == reverse("job-detail", args=["team-a", job.pk])
    job = make_job(keyed.team)
    url = reverse("job-cancel", args=["team-a", job.pk])
    inside = keyed.client("member").post(url, {"next": "/t/team-a/gallery/"})
    assert inside["Location"] == "/t/team-a/gallery/"


@pytest.mark.django_db
def test_viewers_cannot_share_and_members_revoke_only_their_own(keyed) -> None:
    job = mark_ready(make_job(keyed.team))
    create = reverse("share-create", args=["team-a"])
    assert keyed.client("viewer").post(create, {"generations": [job.pk]}).status_code == 403
    assert not ShareLink.objects.exists()
    assert (
        'id="share-form"'
        not in keyed.client("viewer").get(reverse("gallery", args=["team-a"])).content.decode()
    )
    keyed.client("admin").post(create, {"generations": [job.pk]})
    keyed.client("member").post(create, {"generations": [job.pk]})
    admins, members = ShareLink.objects.order_by("pk")

    def revoke(role: str, link: ShareLink) -> int:
        url = reverse("share-revoke", args=["team-a", link.pk])
        return keyed.client(role).post(url).status_code

    assert revoke("member", admins) == 403
    assert revoke("member", members) == 302
    members.revoked_at = None
    members.save(update_fields=["revoked_at"])
    assert revoke("admin", members) == 302
    assert revoke("admin", admins) == 302


@pytest.mark.django_db
def test_dead_share_links_get_our_pages_even_in_debug(keyed, settings) -> None:
    settings.DEBUG = True
    unknown = Client().get("/s/" + "0" * 42 + "/")
    assert unknown.status_code == 404 and b"No such link" in unknown.content
    assert b"technical_404" not in unknown.content and b"URLconf" not in unknown.content
    link = ShareLink.new(team=keyed.team)
    link.save()
    link.revoke()
    gone = Client().get(reverse("public-share", args=[link.key]))
    assert gone.status_code == 410 and b"no longer works" in gone.content


# --- big images decode in bounded memory ---------------------------------------------


def _png(mode: str, size: tuple[int, int], **options: object) -> bytes:
    noise = Image.effect_noise(size, 90).convert("L")
    layers = {
        "L": [noise],
        "LA": [noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT)],
        "RGB": [noise, noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM), noise.rotate(180)],
    }
    if mode == "P":
        image = Image.merge("RGB", layers["RGB"]).quantize(200)
        options.setdefault("transparency", 7)
    elif mode == "RGBA":
        image = Image.merge("RGBA", [*layers["RGB"], noise.point(lambda v: 255 - v)])
    else:
        image = Image.merge(mode, layers[mode])
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P"])
@pytest.mark.parametrize("rows", [1, 7, 64, 10_000])
def test_a_png_decoded_in_bands_is_the_png_decoded_whole(mode: str, rows: int) -> None:
    data = _png(mode, (211, 150))
    stream = io.BytesIO(data)
    header = png_bands.read_header(stream)
    bands = list(png_bands.bands(stream, header, rows))
    assert [band.height for band in bands[:-1]] == [rows] * (len(bands) - 1)
    whole = Image.open(io.BytesIO(data))
    whole.load()
    joined = Image.new(whole.mode, whole.size)
    top = 0
    for band in bands:
        assert band.mode == whole.mode and band.info.get("transparency") == whole.info.get(
            "transparency"
        )
        joined.paste(band, (0, top))
        top += band.height
    assert top == whole.height and joined.tobytes() == whole.tobytes()


def test_a_big_rgba_png_is_fitted_in_bands_like_the_whole_picture() -> None:
    """3000 × 3000 RGBA (36 MB decoded) takes the banded path; the result matches
    flattening and shrinking the whole picture, give or take rounding."""
    ramp = Image.linear_gradient("L").resize((3000, 3000))
    picture = Image.merge(
        "RGBA", [ramp, ramp.rotate(90), ramp.rotate(180), ramp.rotate(270).point(lambda v: v | 64)]
    )
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    fitted = Image.open(io.BytesIO(fit_image(buffer.getvalue()).data)).convert("RGB")
    flat = Image.new("RGB", picture.size, (255, 255, 255))
    flat.paste(picture, mask=picture.getchannel("A"))
    expected = flat.resize(fitted.size, Image.Resampling.LANCZOS)
    difference = [abs(a - b) for a, b in zip(fitted.tobytes(), expected.tobytes(), strict=True)]
    assert fitted.size == (2560, 2560)
    assert sum(difference) / len(difference) < 6  # JPEG and the reduce step, nothing more


def test_a_truncated_big_png_is_refused_as_damaged() -> None:
    data = _png("RGB", (4000, 3000), compress_level=1)
    with pytest.raises(ImageRejected) as caught:
        fit_image(data[: len(data) // 2] + data[-12:])
    assert caught.value.code == "truncated"
