"""The docs are the complete reference: nothing points to a document users do not have, and
the set-up scripts end by saying how to put `cnnc` on the PATH (as the README does)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Files whose owners are rewriting them now; each must still mention SPEC (so that this list
# shrinks as they land) and is checked like the rest once it is taken off.
BEING_REWRITTEN: set = set()


def _user_facing():
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").glob("*.md"))
    yield from sorted((ROOT / "examples").rglob("*.md"))
    yield from sorted((ROOT / "scripts").glob("*.sh"))
    yield from sorted((ROOT / "cnnc").rglob("*.py"))
    yield from sorted((ROOT / "grammars").glob("*.lark"))


def test_no_doc_or_comment_points_to_spec():
    bad, stale = [], []
    for path in _user_facing():
        rel = path.relative_to(ROOT).as_posix()
        mentions = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                    if re.search(r"\bSPEC\b", line)]
        if rel in BEING_REWRITTEN:
            if not mentions:
                stale.append(rel)
        elif mentions:
            bad.extend(f"{rel}:{n}" for n in mentions)
    assert not bad, "name what is meant instead of pointing to SPEC: " + ", ".join(bad)
    assert not stale, "no longer mentions SPEC: take it off BEING_REWRITTEN: " + ", ".join(stale)


def test_the_set_up_scripts_say_how_to_get_cnnc_on_the_path():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in readme
    for script in ("examples.sh", "test.sh"):
        text = (ROOT / "scripts" / script).read_text(encoding="utf-8")
        assert re.search(r"echo .*source \.venv/bin/activate", text), script
    # test.sh says it before pytest runs, so that pytest's summary stays the last line CI reads
    test_sh = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert test_sh.index("activate") < test_sh.index("-m pytest")
