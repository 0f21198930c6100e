"""Sign up, sign in (rate-limited per account and per address), sign out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from generations.access import public_view
from generations.forms import SignInForm, SignUpForm
from generations.ratelimit import client_ip, sign_in_windows


def _next_url(request: HttpRequest, default: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else default


@public_view
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Create a team, or open an invitation link."))
        return redirect(_next_url(request, "team-list"))
    return render(request, "accounts/signup.html", {"form": form, "next": _next_url(request, "")})


@public_view
def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request, data=request.POST or None)
    status = 200
    if request.method == "POST":
        account = request.POST.get("username", "").strip().lower()[:150]
        address = client_ip(request)
        per_account, per_address = sign_in_windows()
        if per_account.exceeded(account) or per_address.exceeded(address):
            minutes = max(1, per_account.retry_after() // 60)
            form.errors.clear()
            form.add_error(None, form.error_messages["rate_limited"] % {"minutes": minutes})
            status = 429
        elif form.is_valid():
            login(request, form.get_user())
            return redirect(_next_url(request))
        else:
            per_account.hit(account)
            per_address.hit(address)
    context = {"form": form, "next": _next_url(request, "")}
    return render(request, "accounts/login.html", context, status=status)
