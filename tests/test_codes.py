"""The error catalogue: every code named once, no bare number at a raise site, the page
``docs/errors.md`` generated from it, and every code the tests assert catalogued."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from patron.codes import catalogue, markdown

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "patron"
PAGE = ROOT / "docs" / "errors.md"

#: The calls whose first argument (or ``code=``) is a code: the error tree, its subclasses
#: outside ``kit/errors.py``, the warnings and the API's error body.
CODE_TAKERS = {
    "PatronError",
    "InvalidInput",
    "Unauthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "SessionEnded",
    "SessionExpired",
    "TooManyFailures",
    "NothingDone",
    "Notice",
    "FieldError",
    "error_body",
}


def _numbers() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for domain, codes in catalogue().items():
        for code in codes:
            found.setdefault(code.number, []).append(f"{domain}.{code.name}")
    return found


def test_one_number_has_one_name() -> None:
    twice = {n: names for n, names in _numbers().items() if len(names) > 1}
    assert not twice


def test_every_code_has_a_meaning_and_a_status() -> None:
    for codes in catalogue().values():
        for code in codes:
            assert code.meaning.strip(), code
            assert code.status.strip(), code


def _outside_calls(node: ast.AST) -> list[ast.AST]:
    """``node`` and its parts, except what calls take: ``int(match.group(1))`` reads a
    code, but ``8011 if ... else 8012`` names two."""
    found = [node]
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.Call):
            found += _outside_calls(child)
    return found


def test_no_bare_number_at_a_raise_site() -> None:
    bare = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if name not in CODE_TAKERS:
                continue
            code = node.args[0] if node.args else None
            code = next((k.value for k in node.keywords if k.arg == "code"), code)
            if code is None:
                continue
            for part in _outside_calls(code):
                if isinstance(part, ast.Constant) and type(part.value) is int:
                    bare.append(f"{path.relative_to(ROOT)}:{part.lineno} {name}({part.value}")
    assert not bare, "name these codes from patron.codes:\n" + "\n".join(bare)


def test_no_bare_number_compared_with_a_code() -> None:
    bare = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if not any(isinstance(s, ast.Attribute) and s.attr == "code" for s in sides):
                continue
            numbers = [s for s in sides if isinstance(s, ast.Constant) and type(s.value) is int]
            bare += [f"{path.relative_to(ROOT)}:{n.lineno} == {n.value}" for n in numbers]
    assert not bare, "name these codes from patron.codes:\n" + "\n".join(bare)


def test_the_page_is_the_catalogue() -> None:
    assert PAGE.read_text(encoding="utf-8") == markdown(), (
        "docs/errors.md differs from the catalogue: regenerate it with "
        "`python -m patron.codes docs/errors.md`"
    )


def test_every_code_the_tests_assert_is_catalogued() -> None:
    # The codes the tests expect of answers: ``"code": N`` and ``code == N`` / ``[N]``
    # comparisons; a code answered without being catalogued fails here.
    asserted = re.compile(r"""(?:["']code["']\]?\s*(?:==|:)\s*|\bcodes?\b\s*==\s*\[?)(\d{3,5})\b""")
    known = _numbers()
    unknown = set()
    for path in sorted(Path(__file__).parent.rglob("test_*.py")):
        for match in asserted.finditer(path.read_text(encoding="utf-8")):
            if int(match.group(1)) not in known:
                unknown.add(f"{path.name}: {match.group(1)}")
    assert not unknown, sorted(unknown)
