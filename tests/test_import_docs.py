"""The user guide keeps up with the import profiles: a page each, every field and option."""

from __future__ import annotations

from pathlib import Path

import pytest

from patron.imports.profiles import PROFILES

DOCS = Path(__file__).parent.parent / "docs"
#: The legacy batch API's profile is described with the API it serves.
PAGES = {"legacy-customers": DOCS / "legacy-batch-api.md"}


def page_of(profile_id: str) -> Path:
    return PAGES.get(profile_id, DOCS / "import-profiles" / f"{profile_id}.md")


@pytest.mark.parametrize("profile_id", list(PROFILES))
def test_every_profile_has_a_page_naming_its_fields_and_options(profile_id: str) -> None:
    page = page_of(profile_id)
    assert page.exists(), f"{profile_id} has no page in the user guide ({page})"
    text = page.read_text(encoding="utf-8")
    spec = PROFILES[profile_id].spec
    missing = [f.name for f in spec.fields if f.name not in text and f.label not in text]
    missing += [o.name for o in spec.options if o.name not in text]
    assert not missing, f"{page.name} does not mention: {', '.join(missing)}"


def test_the_imports_page_lists_every_profile() -> None:
    text = (DOCS / "imports.md").read_text(encoding="utf-8")
    assert [p for p in PROFILES if f"`{p}`" not in text] == []
