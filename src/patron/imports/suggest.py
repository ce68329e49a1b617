"""Suggested column mappings: which field each header of a file most likely holds.

Matching, strongest first, one confidence per level:

    exact             1.00  the header is a field's name or label as written
    normalized        0.95  equal once case, accents, punctuation, spacing and a
                            trailing "(...)" note are set aside
    synonym           0.90  equal, normalized, to a spelling the profile lists
    earlier template  0.85  the org mapped this header to the field before
    fuzzy             <0.80 close to a name, label or synonym (a typo, a word order)

Every field goes to one header at most: the most confident pairs are taken first,
and a header that loses its field falls back to its next candidate, or to none.
The suggestions are only a starting point; the template the user saves decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from patron.imports.profile import FieldSpec

EXACT = 1.0
NORMALIZED = 0.95
SYNONYM = 0.9
EARLIER = 0.85
#: A fuzzy score (0-100) below this is no suggestion at all.
FUZZY_THRESHOLD = 85.0
#: A fuzzy match's confidence is its score scaled into 0..0.8, under every other level.
FUZZY_SCALE = 0.8

#: Letters NFKD leaves whole although readers see a base letter with a stroke or a ligature.
_FOLD = str.maketrans({"đ": "d", "ð": "d", "ø": "o", "ł": "l", "ħ": "h", "\u0131": "i",
                       "æ": "ae", "œ": "oe", "þ": "th"})  # fmt: skip
_TRAILING_NOTE = re.compile(r"\([^()]*\)\s*$")
#: Combining marks after a base letter below this code point (Latin, Greek, Cyrillic)
#: are accents and are dropped; elsewhere (Devanagari, Thai, ...) they spell the
#: word and are kept.
_ACCENTED_SCRIPTS_END = "\u0530"


@dataclass(frozen=True)
class Suggestion:
    """The field suggested for one header of a file."""

    column: str  # the file's header, as given
    field: str | None  # the target field's name; None when nothing fits
    confidence: float  # 0..1, two decimals
    reason: str  # exact | normalized | synonym | earlier template | fuzzy | none


def normalize_header(text: str) -> str:
    """``text`` case-folded, without accents, punctuation or a trailing "(...)" note.

    Words stay apart by single spaces: ``"MOBILE_NO."`` and ``"Mobile No."`` both
    give ``"mobile no"``, ``"Số điện thoại"`` gives ``"so dien thoai"``.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    without_note = _TRAILING_NOTE.sub("", decomposed)
    if without_note.strip():
        decomposed = without_note
    folded = unicodedata.normalize("NFKD", decomposed.casefold()).translate(_FOLD)
    kept: list[str] = []
    accented_base = False
    for char in folded:
        kind = unicodedata.category(char)[0]
        if kind == "M":
            if not accented_base:
                kept.append(char)
        elif kind in "LN":
            kept.append(char)
            accented_base = char < _ACCENTED_SCRIPTS_END
        else:
            kept.append(" ")
            accented_base = False
    return " ".join("".join(kept).split())


def _key(text: str) -> str:
    """The normalized form without spaces, so "E-mail" and "email" compare equal."""
    return normalize_header(text).replace(" ", "")


@dataclass(frozen=True)
class _Target:
    """A field with its spellings prepared once for every header."""

    name: str
    exact: frozenset[str]
    normalized: frozenset[str]
    synonyms: frozenset[str]
    phrases: tuple[tuple[str, str], ...]  # (normalized, key) pairs for fuzzy matching

    @classmethod
    def of(cls, spec: FieldSpec) -> _Target:
        # An org field ``custom.dateofbirth`` is also known by the part after the dot.
        names = {spec.name, spec.name.rpartition(".")[2]}
        spellings = [*names, spec.label]
        phrases = {normalize_header(text) for text in [*spellings, *spec.synonyms]}
        return cls(
            name=spec.name,
            exact=frozenset(spellings),
            normalized=frozenset(_key(text) for text in spellings) - {""},
            synonyms=frozenset(_key(text) for text in spec.synonyms) - {""},
            phrases=tuple((phrase, phrase.replace(" ", "")) for phrase in phrases if phrase),
        )

    def match(
        self, header: str, phrase: str, earlier: Mapping[str, str]
    ) -> tuple[float, str] | None:
        """This field's confidence and reason for ``header`` (normalized: ``phrase``)."""
        key = phrase.replace(" ", "")
        if header in self.exact:
            return EXACT, "exact"
        if not key:
            return None
        if key in self.normalized:
            return NORMALIZED, "normalized"
        if key in self.synonyms:
            return SYNONYM, "synonym"
        if earlier.get(key) == self.name:
            return EARLIER, "earlier template"
        score = self._fuzzy(phrase, key)
        if score < FUZZY_THRESHOLD:
            return None
        return round(score / 100 * FUZZY_SCALE, 2), "fuzzy"

    def _fuzzy(self, phrase: str, key: str) -> float:
        # Word order ("Name First") and spacing ("Frist_name" vs "firstname") both count.
        return max(
            (
                max(fuzz.token_sort_ratio(phrase, known), fuzz.ratio(key, known_key))
                for known, known_key in self.phrases
            ),
            default=0.0,
        )


def _earlier_fields(earlier: Sequence[Mapping[str, str]], known: set[str]) -> dict[str, str]:
    """Normalized header -> field from earlier templates; the newest mapping of a header wins."""
    fields: dict[str, str] = {}
    for mapping in earlier:
        for column, field in mapping.items():
            key = _key(column)
            if key and field in known:
                fields.setdefault(key, field)
    return fields


def suggest_mapping(
    headers: Sequence[str],
    targets: Sequence[FieldSpec],
    earlier: Sequence[Mapping[str, str]] = (),
) -> list[Suggestion]:
    """One suggestion per header, in header order; each field suggested once at most.

    ``earlier`` holds the column -> field mappings of the org's earlier templates
    of the same profile, newest first.
    """
    prepared = [_Target.of(spec) for spec in targets]
    previous = _earlier_fields(earlier, {target.name for target in prepared})
    candidates: list[tuple[float, int, int, str]] = []
    for header_at, header in enumerate(headers):
        phrase = normalize_header(header)
        for target_at, target in enumerate(prepared):
            found = target.match(header, phrase, previous)
            if found is not None:
                candidates.append((found[0], header_at, target_at, found[1]))

    # Most confident pairs first; ties go to the earlier header, then the earlier field.
    candidates.sort(key=lambda candidate: (-candidate[0], candidate[1], candidate[2]))
    chosen: dict[int, Suggestion] = {}
    taken: set[int] = set()
    for confidence, header_at, target_at, reason in candidates:
        if header_at in chosen or target_at in taken:
            continue
        chosen[header_at] = Suggestion(
            headers[header_at], prepared[target_at].name, confidence, reason
        )
        taken.add(target_at)
    return [
        chosen.get(at, Suggestion(header, None, 0.0, "none")) for at, header in enumerate(headers)
    ]
