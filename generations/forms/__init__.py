"""The studio's forms, one module per area: `accounts`, `teams`, `keys` (upstream
keys, shared with the admin), `operators` (admin actions), `generate`, `gallery`
(filters and share links). Every message is translated."""

from __future__ import annotations

from typing import Any

from django import forms


def set_choices(form: forms.BaseForm, name: str, choices: Any) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices
