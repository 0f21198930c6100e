"""The OpenAPI document tells the truth: Schemathesis reads `/api/v1/openapi.json` and
fuzzes a live server with a member's token, with every check but one.

Left out: `positive_data_acceptance` (a request the schema allows must succeed). The
schema describes each field — the modes, ratios, resolutions and ranges the server
takes — but not the rules between fields that the generate form applies (a mode's own
durations, a prompt required by the text modes, a resolution only some models make) nor
what an opaque cursor encodes. Those requests are refused with a 400 that every
operation taking input declares, in words. Every other check runs: no 5xx, every answer
declared with its body, invalid data refused, headers and content types as declared."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from generations.models import ApiToken, Membership, Role
from tests.cast import make_user


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing_but_documented_refusals(
    keyed, live_server, settings, request, tmp_path
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the document and the checks are the same on both stacks: once is enough")
    settings.API_RATE_PER_MINUTE = 1_000_000  # the fuzzer is not what the limit is for
    logging.disable(logging.WARNING)  # a thousand refusals logged would double the time
    request.addfinalizer(lambda: logging.disable(logging.NOTSET))
    fuzzer = make_user("fuzzer")
    Membership.objects.create(team=keyed.team, user=fuzzer, role=Role.MEMBER)
    _token, plain = ApiToken.issue(team=keyed.team, user=fuzzer, name="schemathesis")
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{live_server.url}/api/v1/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--header",
            f"Authorization: Bearer {plain}",
            # The coverage phase (every boundary of every field: 1,173 cases, a minute)
            # ran clean when the document was made truthful; here, fuzzing and chains
            # of calls, bounded: about 300 cases in 20 s.
            "--phases",
            "examples,fuzzing,stateful",
            "--max-examples",
            "15",
            "--workers",
            "1",
            "--no-color",
            "--seed",
            "2026",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=tmp_path,  # where Schemathesis keeps its cache
    )
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    print(summary)
    assert run.returncode == 0, run.stdout[-6000:]
    assert "passed" in summary and "failure" not in summary


def test_every_operation_declares_every_answer_it_gives_with_its_body() -> None:
    import json

    from generations.api.v1 import api
    from generations.jimeng import catalog

    schema = json.loads(json.dumps(api.get_openapi_schema()))
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert {"401", "429"} <= set(answers), (method, path)
            if "{" in path:
                assert "404" in answers, (method, path)
            if operation["x-required-role"] != "viewer":
                assert "403" in answers, (method, path)
            for status, answer in answers.items():
                if status.startswith(("4", "5")):
                    assert "content" in answer, (method, path, status)
    create = schema["components"]["schemas"]["GenerationIn"]["properties"]
    assert create["mode"]["enum"] == list(catalog.MODES)
    assert (create["duration"]["minimum"], create["duration"]["maximum"]) == (-1, 30)
    assert (create["variants"]["minimum"], create["variants"]["maximum"]) == (1, 4)
    listing = next(
        p
        for p in schema["paths"]["/api/v1/generations"]["get"]["parameters"]
        if p["name"] == "since"
    )
    assert "date" in json.dumps(listing["schema"])
