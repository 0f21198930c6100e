"""Every environment variable the code reads is documented in .env.example and README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READS = re.compile(r'(?:env_[a-z_]+|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]+)"')


def _variables() -> set[str]:
    found: set[str] = set()
    for path in [ROOT / "jimeng_web" / "settings.py", *(ROOT / "generations").rglob("*.py")]:
        found |= set(READS.findall(path.read_text()))
    return found


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


def test_no_code_cites_documents_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN §|DESIGN\.md|\.\./shared/|\bseed 00[0-9]")
    sources = [*(ROOT / "generations").rglob("*.py"), *(ROOT / "sandbox").rglob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in sources if outside.search(p.read_text())]
    assert not offenders, offenders
