"""The one way out (generations/jimeng/transport.py): API calls follow no redirects,
and words from hosts other than the official API never reach people."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from generations.jimeng import transport
from generations.jimeng.addresses import AddressRules
from generations.jimeng.client import GatewayClient, VolcengineClient
from generations.jimeng.errors import JimengError
from generations.services.keys import describe_upstream_error
from tests.addresses import SECRET, connection_test_page
from tests.cast import add_credential
from tests.local_http import SECRET_BODY, local_server

pytestmark = pytest.mark.security


@pytest.mark.django_db
def test_api_calls_follow_no_redirects(cast, settings) -> None:
    with local_server() as internal:
        to_inside = {"Location": f"{internal.url}/steal"}
        with local_server(lambda path: (307, to_inside, b"")) as redirector:
            settings.SANDBOX_URL = f"{redirector.url}/sandbox/"
            credential = add_credential(cast.team, f"{redirector.url}/sandbox/volcengine/")
            page = connection_test_page(cast, credential)
    assert len(redirector.hits) == 1 and internal.hits == []
    assert SECRET not in page


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
