"""What people read: modes by name (not their codes), units in their language."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse
from django.utils import translation

from tests.pipeline import make_job, mark_ready

pytestmark = pytest.mark.django_db


def test_cards_show_mode_names_and_units_in_the_users_language(keyed) -> None:
    job = make_job(keyed.team, "t2v_720p", seconds=5)
    mark_ready(job)
    client = keyed.client("member")
    pages = [
        client.get(reverse("studio", args=["team-a"])).content.decode(),
        client.get(reverse("gallery", args=["team-a"])).content.decode(),
    ]
    for page in pages:
        assert "Text to video · 720P · 5 s" in page and ">t2v_720p<" not in page
    client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        for name in ("studio", "gallery"):
            page = client.get(reverse(name, args=["team-a"]), HTTP_ACCEPT_LANGUAGE="zh-hans")
            text = page.content.decode()
            assert "5 秒" in text and "5 s<" not in text and "文生视频" in text


@pytest.mark.django_db(False)
def test_every_message_has_its_chinese_translation(tmp_path) -> None:
    """Nothing reaches a Chinese reader in English because a message was never extracted,
    or its translation forgotten or left fuzzy: `makemessages` is run on a copy of the
    code, and every message it finds must be translated."""
    import re
    import shutil
    import subprocess
    import sys

    from tests.paths import ROOT

    copy = tmp_path / "studio"
    copy.mkdir()
    for part in ("manage.py", "generations", "jimeng_web", "sandbox", "templates", "locale"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, copy / part)
    done = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", "-v0"],
        cwd=copy,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "jimeng_web.settings",
            "PYTHONPATH": str(copy),
            "DATA_DIR": str(tmp_path / "var"),
        },
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    text = (copy / "locale/zh_Hans/LC_MESSAGES/django.po").read_text()
    entries = [block for block in text.split("\n\n") if "msgid " in block][1:]  # no header
    assert len(entries) > 500
    fuzzy = [e for e in entries if re.search(r"^#,.*\bfuzzy\b", e, re.M)]
    empty = [e for e in entries if re.search(r'^msgstr(\[\d\])? ""$(?!\n")', e, re.M)]
    assert not fuzzy, "fuzzy:\n" + "\n\n".join(fuzzy[:5])
    assert not empty, "untranslated:\n" + "\n\n".join(empty[:5])
