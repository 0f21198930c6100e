"""What the OpenAPI document says about values and answers, from the catalog, so that it
tells the truth: the modes, ratios, resolutions and ranges the server takes, and every
answer an operation gives with its body (a fuzzer reading the document, Schemathesis,
checks both: `tests/api/test_schema.py`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, WithJsonSchema
from pydantic_core import PydanticCustomError, core_schema

from generations.forms.values import ID_DIGITS
from generations.jimeng import catalog
from generations.jimeng.payload import SEED_MAX
from generations.models import Status
from generations.services import variants as takes


class ErrorOut(Schema):
    """Every refusal: the reason in words, and the problems of each field when there
    are some (in the language of Accept-Language)."""

    detail: str
    errors: dict[str, list[str]] | None = None


@dataclass(frozen=True)
class OneOf:
    """A string field that takes one of these values, said in the schema (`enum`) and
    checked when the request is read."""

    values: tuple[str, ...]

    @classmethod
    def of(cls, values: Iterable[str]) -> OneOf:
        return cls(tuple(dict.fromkeys(values)))

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        json_schema["enum"] = list(self.values)
        return json_schema

    def _check(self, value: str | None) -> str | None:
        if value is not None and value not in self.values:
            raise PydanticCustomError(
                "one_of", "use one of: {choices}", {"choices": ", ".join(self.values)}
            )
        return value


def _resolutions() -> Iterable[str]:
    for mode in catalog.MODES.values():
        yield from mode.resolutions


MODES = OneOf.of(catalog.MODES)
RATIOS = OneOf.of([*catalog.S20_ASPECT_RATIOS, "adaptive"])
RESOLUTIONS = OneOf.of(_resolutions())
CAMERA_TEMPLATES = OneOf.of(catalog.CAMERA_TEMPLATES)
CAMERA_STRENGTHS = OneOf.of(catalog.CAMERA_STRENGTHS)


def _in_a_form(choice: OneOf) -> WithJsonSchema:
    """An optional choice sent as a multipart form field is left out when not given: a
    form cannot say null, so the schema must not offer it."""
    return WithJsonSchema({"type": "string", "enum": list(choice.values)})


ModeName = Annotated[str, MODES]
AspectRatio = Annotated[str, RATIOS]
Resolution = Annotated[str, RESOLUTIONS]
CameraTemplate = Annotated[str, CAMERA_TEMPLATES]
CameraStrength = Annotated[str, CAMERA_STRENGTHS]
FormAspectRatio = Annotated[str | None, RATIOS, _in_a_form(RATIOS)]
FormResolution = Annotated[str | None, RESOLUTIONS, _in_a_form(RESOLUTIONS)]
FormCameraTemplate = Annotated[str | None, CAMERA_TEMPLATES, _in_a_form(CAMERA_TEMPLATES)]
FormCameraStrength = Annotated[str | None, CAMERA_STRENGTHS, _in_a_form(CAMERA_STRENGTHS)]
FormUrl = Annotated[str | None, WithJsonSchema({"type": "string", "format": "uri"})]
Vary = Annotated[str, OneOf.of(takes.Vary.values)]
JobStatus = Annotated[str, OneOf.of(Status.values)]
# -1: the model picks the length (Ark); the longest any model makes is 30 s.
Duration = Annotated[int, Field(ge=catalog.AUTO_DURATION, le=30)]
Seed = Annotated[int, Field(ge=-1, le=SEED_MAX)]
Variants = Annotated[int, Field(ge=1, le=takes.MAX_VARIANTS)]
RowId = Annotated[int, Field(ge=1, le=10**ID_DIGITS - 1)]
FormRowId = Annotated[
    int | None,
    Field(ge=1, le=10**ID_DIGITS - 1),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 10**ID_DIGITS - 1}),
]
Prompt = Annotated[str, Field(max_length=2000)]


def answers(given: Any, *, writes: bool, has_path_id: bool, takes_input: bool) -> dict[int, Any]:
    """Every answer of an operation: what it declares, and what any may give — 401 (no
    or a dead token), 429 (the token's rate), 403 (a role too low, for writes), 404
    (another team's object, for paths with an id), 400 (input that breaks the rules)."""
    declared = dict(given) if isinstance(given, dict) else {200: given}
    common = {401: ErrorOut, 429: ErrorOut}
    if writes:
        common[403] = ErrorOut
    if has_path_id:
        common[404] = ErrorOut
    if takes_input:
        common[400] = ErrorOut
    return {**common, **declared}


def field_problem(problem: dict[str, Any]) -> str:
    """One of pydantic's problems with a request, in words for people (translated)."""
    kind = str(problem.get("type", ""))
    context = problem.get("ctx") or {}
    words = {
        "one_of": _("Use one of: %(choices)s."),
        "greater_than_equal": _("Use %(ge)s or more."),
        "less_than_equal": _("Use %(le)s or less."),
        "int_parsing": _("Use a whole number."),
        "int_type": _("Use a whole number."),
        "int_from_float": _("Use a whole number."),
        "missing": _("This field is required."),
        "string_too_long": _("Use at most %(max_length)s characters."),
        "string_type": _("Use text."),
        "too_short": _("Give at least %(min_length)s."),
        "too_long": _("Give at most %(max_length)s."),
        "bool_parsing": _("Use true or false."),
        "bool_type": _("Use true or false."),
        "list_type": _("Give a list."),
        "dict_type": _("Give an object."),
        "model_attributes_type": _("Give an object."),
    }
    if kind.startswith("date"):
        return str(_("Use a date as YYYY-MM-DD."))
    if kind in words:
        try:
            return str(words[kind] % context)
        except (KeyError, TypeError, ValueError):
            return str(words[kind])
    return str(problem.get("msg") or kind)
