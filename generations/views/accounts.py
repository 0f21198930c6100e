"""Sign up, sign in and password reset, each throttled per client address (and sign-in
per account and address); sign-up never tells whether an email is registered."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from generations.access import public_view
from generations.errors import Refused
from generations.forms.accounts import PasswordResetRequestForm, SignInForm, SignUpForm
from generations.models import Invitation
from generations.services import invitations
from generations.services.throttles import (
    client_ip,
    password_reset_windows,
    sign_in_windows,
    sign_up_window,
)


def safe_next(request: HttpRequest, default: str = "home") -> str:
    """The `next` the request asks for, when it stays on this site; else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else default


def _invitation(request: HttpRequest) -> Invitation | None:
    """The open invitation the visitor came from, when `next` leads back to one."""
    target = safe_next(request, "")
    try:
        match = resolve(urlsplit(target).path) if target else None
    except Resolver404:
        return None
    if match is None or match.url_name != "invitation-accept":
        return None
    invitation = Invitation.find(match.kwargs.get("token", ""))
    return invitation if invitation is not None and invitation.state == "pending" else None


def _too_many(form: Any, minutes: int) -> None:
    form.errors.clear()
    form.add_error(
        None,
        _("Too many attempts from your address. Wait %(minutes)s minute(s) and try again.")
        % {"minutes": minutes},
    )


@public_view
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        window, address = sign_up_window(), client_ip(request)
        if window.exceeded(address):
            _too_many(form, window.minutes_left())
            status = 429
        else:
            window.hit(address)
            if form.is_valid():
                invitation = _invitation(request)
                user = form.save()
                _tell_owner_of_taken_email(request, form)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                if invitation is not None:
                    return _join_at_once(request, invitation, user)
                messages.success(request, _("Welcome! Create a team, or open an invitation link."))
                return redirect(safe_next(request, "team-list"))
    context = {"form": form, "next": safe_next(request, ""), "invitation": _invitation(request)}
    return render(request, "accounts/signup.html", context, status=status)


def _join_at_once(request: HttpRequest, invitation: Invitation, user: Any) -> HttpResponse:
    """Someone who signed up from an invitation link came to join: they join now, not
    after a second click. If the link was used meanwhile, its page says so."""
    try:
        invitations.accept_invitation(invitation=invitation, user=user)
    except Refused:
        return redirect(safe_next(request, "team-list"))
    messages.success(request, _("Welcome to %(team)s.") % {"team": invitation.team.name})
    return redirect("studio", slug=invitation.team.slug)


def _tell_owner_of_taken_email(request: HttpRequest, form: SignUpForm) -> None:
    """The new account was made without the email, which belongs to someone else: tell
    them, and nobody else (the page looks the same either way)."""
    if not form.taken_email:
        return
    body = _(
        "Someone signed up on Jimeng Studio as “%(username)s” with this email address, which "
        "already belongs to an account. The new account was made without it.\n\n"
        "If that was you and you forgot your password, reset it here:\n%(url)s\n"
    ) % {
        "username": form.cleaned_data["username"],
        "url": request.build_absolute_uri("/accounts/password/reset/"),
    }
    subject = _("Jimeng Studio: your email address was used to sign up")
    send_mail(subject, body, None, [form.taken_email], fail_silently=True)


@public_view
def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request, data=request.POST or None)
    status = 200
    if request.method == "POST":
        account = request.POST.get("username", "").strip().lower()[:150]
        address = client_ip(request)
        per_account, per_address = sign_in_windows()
        pair = f"{account}\n{address}"
        if per_account.exceeded(pair) or per_address.exceeded(address):
            form.errors.clear()
            form.add_error(
                None,
                form.error_messages["rate_limited"] % {"minutes": per_account.minutes_left()},
            )
            status = 429
        elif form.is_valid():
            login(request, form.get_user())
            return redirect(safe_next(request))
        else:
            per_account.hit(pair)
            per_address.hit(address)
    context = {"form": form, "next": safe_next(request, ""), "invitation": _invitation(request)}
    return render(request, "accounts/login.html", context, status=status)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset view, throttled per address; beyond a few mails an hour to one
    address, the page still says "sent" but no more mail goes out."""

    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    form_class = PasswordResetRequestForm

    def form_valid(self, form: Any) -> HttpResponse:
        per_address, per_email = password_reset_windows()
        address, email = client_ip(self.request), form.cleaned_data["email"]
        if per_address.exceeded(address):
            _too_many(form, per_address.minutes_left())
            return self.render_to_response(self.get_context_data(form=form), status=429)
        per_address.hit(address)
        if per_email.exceeded(email):
            return HttpResponseRedirect(self.get_success_url())
        per_email.hit(email)
        return super().form_valid(form)


password_reset = public_view(PasswordResetView.as_view())
