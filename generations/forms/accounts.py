"""Sign-up, sign-in and password-reset forms."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.utils.translation import gettext_lazy as _


class SignUpForm(UserCreationForm):  # type: ignore[type-arg]
    """Sign-up that does not reveal which emails are registered: an email that already
    belongs to an account is not refused; the new account is made without it and the
    view tells the address's owner (`taken_email`)."""

    email = forms.EmailField(label=_("Email"), help_text=_("For password resets."))

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    taken_email = ""

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            self.taken_email = email
            return ""
        return email


class PasswordResetRequestForm(PasswordResetForm):
    email = forms.EmailField(label=_("Email"), max_length=254)


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "rate_limited": _("Too many sign-in attempts. Wait %(minutes)s minute(s) and try again."),
    }
