"""Upstream keys: test one with a real signed call, make one the team's default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from generations.jimeng.client import ArkClient, TaskStatus
from generations.jimeng.errors import ErrorKind, JimengError


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def describe_upstream_error(error: JimengError, endpoint: str) -> str:
    """An upstream error in plain words, for people rather than logs."""
    code = error.code
    if error.code == "address_private":
        return _(
            "%(endpoint)s is on an allowed host, but it resolves to a loopback or private "
            "address, which the studio may not connect to."
        ) % {"endpoint": endpoint}
    if error.kind == ErrorKind.ADDRESS:
        return _(
            "%(endpoint)s may not be used: keys only go to the official API hosts or to "
            "hosts the operator allowed, on public addresses."
        ) % {"endpoint": endpoint}
    if error.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT):
        return _("Could not reach %(endpoint)s (%(detail)s).") % {
            "endpoint": endpoint,
            "detail": error.message,
        }
    if code in (100009, "InvalidAccessKey", "AuthenticationError") or code == "invalid_api_key":
        return _("The access key is not recognised.")
    if code in (100010, "SignatureDoesNotMatch"):
        return _("Bad signature: the secret key does not match the access key.")
    if code in (100013, 100012, "AccessDenied") or error.http_status == 403:
        return _("Access denied: this key may not use the video API.")
    if error.is_auth or error.http_status == 401:
        return _("The key was refused (%(detail)s).") % {"detail": error.message}
    return _("The service answered with an error: %(detail)s") % {"detail": str(error)}


def check_connection(credential: Any) -> ConnectionCheck:
    """One real call with the key; the outcome is recorded on it."""
    client = credential.client(query_timeout=10)
    try:
        check = (
            _ark_check(client) if isinstance(client, ArkClient) else _task_check(client, credential)
        )
    except JimengError as error:
        check = ConnectionCheck(False, describe_upstream_error(error, credential.endpoint))
    credential.record_test(ok=check.ok, message=check.message)
    return check


def _ark_check(client: ArkClient) -> ConnectionCheck:
    """Ark: list the newest task."""
    client.list_tasks(page_size=1)
    return ConnectionCheck(True, _("Key valid: Ark listed the tasks."))


def _task_check(client: Any, credential: Any) -> ConnectionCheck:
    """Elsewhere: ask about a task that does not exist; `not_found` means the keys work."""
    result = client.get_result(task_id="0", req_key=credential.modes()[0].req_key)
    if result.status == TaskStatus.NOT_FOUND:
        return ConnectionCheck(True, _("Keys valid: the service accepted the signed request."))
    return ConnectionCheck(False, _("Unexpected answer: %(status)s") % {"status": result.status})


@transaction.atomic
def make_default(credential: Any) -> None:
    credential.team.credentials.filter(is_default=True).exclude(pk=credential.pk).update(
        is_default=False
    )
    credential.is_default = True
    credential.save(update_fields=["is_default"])
