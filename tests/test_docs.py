"""The documents keep up with the code: every environment variable the code reads is in
.env.example and the README, every document the code cites exists, and the architecture
map names every module."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_structure import PACKAGE, app_modules

ROOT = Path(__file__).resolve().parent.parent
READS = re.compile(r'(?:env_[a-z_]+|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]+)"')
# Read, but not ours to document: pytest-xdist sets it in its test workers.
NOT_SETTINGS = {"PYTEST_XDIST_WORKER"}


def _variables() -> set[str]:
    found: set[str] = set()
    for path in [ROOT / "jimeng_web" / "settings.py", *(ROOT / "generations").rglob("*.py")]:
        found |= set(READS.findall(path.read_text()))
    return found - NOT_SETTINGS


def test_every_variable_is_in_env_example_and_readme() -> None:
    variables = _variables()
    assert len(variables) > 60
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    missing_example = sorted(v for v in variables if not re.search(rf"^{v}=", example, re.M))
    missing_readme = sorted(v for v in variables if f"`{v}`" not in readme)
    assert not missing_example, f".env.example lacks {missing_example}"
    assert not missing_readme, f"README lacks {missing_readme}"


CITED = re.compile(r"docs/[A-Za-z0-9_/.-]+\.md")


def test_every_document_the_code_cites_is_in_the_repository() -> None:
    sources = [
        *(ROOT / "generations").rglob("*.py"),
        *(ROOT / "sandbox").rglob("*.py"),
        *(ROOT / "jimeng_web").rglob("*.py"),
        ROOT / "README.md",
        *(ROOT / "docs").rglob("*.md"),
    ]
    cited = {match for path in sources for match in CITED.findall(path.read_text())}
    assert len(cited) > 5
    missing = sorted(c for c in cited if not (ROOT / c).is_file())
    assert not missing, f"cited but missing: {missing}"


# A document named from code: a path ending in .md, or a numbered section (§3).
NAMED = re.compile(r"[\w./-]*\.md\b|§\s*\d")


def test_code_cites_only_documents_in_the_repository() -> None:
    """Whatever the code relies on is in docs/ (or the README), cited by its path there;
    a section number means something only after such a path on the same line."""
    sources = [
        path
        for folder in ("generations", "sandbox", "jimeng_web", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "test_docs.py"
    ]
    offenders = []
    for path in sources:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for found in NAMED.finditer(line):
                name = found.group(0)
                inside = name.startswith("docs/") or name in ("README.md", "bench/README.md")
                if name.startswith("§"):
                    inside = "docs/" in line[: found.start()]
                if not inside:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert not offenders, offenders


def test_the_architecture_map_names_every_module() -> None:
    """docs/architecture.md is where a newcomer starts: every module is on its map, by
    its path below generations/ (`services/pipeline/archiving.py`, `models/`)."""
    text = (ROOT / "docs/architecture.md").read_text()
    missing = []
    for path in app_modules().values():
        shown = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py":
            shown = shown.removesuffix("__init__.py") or "__init__.py"
        if f"`{shown}`" not in text:
            missing.append(shown)
    assert not missing, f"docs/architecture.md does not name: {sorted(missing)}"


# A source file named in a document: `generations/services/ledger.py`, `sandbox/render.py`.
SOURCE_PATH = re.compile(r"\b(?:generations|sandbox|jimeng_web|bench|tools|tests)/[\w/]*\.py\b")


def test_every_source_file_a_document_names_exists() -> None:
    """A module moves (the house-order step moved thirty): the documents follow it."""
    documents = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), ROOT / "bench/README.md"]
    named = {
        (document.name, path)
        for document in documents
        for path in SOURCE_PATH.findall(document.read_text())
    }
    assert len(named) > 20
    missing = sorted(
        f"{path} (in {document})" for document, path in named if not (ROOT / path).is_file()
    )
    assert not missing, f"documents name files that are not there: {missing}"
