"""Hooks of the schemathesis run of ``tests/test_api_schemathesis.py`` (loaded by ``st``).

A registration's schema gives the shape of its fields, not every rule they obey (a mobile
number of a real numbering plan, names without digits), so almost no generated body
registers anyone, and the registration's answer (and what follows from a new customer)
would go untested. The valid (positive) registrations are therefore replaced by one of the
user guide's shape with a new mobile, email and external id each; the invalid (negative)
ones are sent as generated.
"""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis
from schemathesis import Case, GenerationMode, HookContext

_numbers = itertools.count()


@schemathesis.hook("map_case").apply_to(operation_id="registerCustomer")
def valid_registration(context: HookContext, case: Case) -> Case:
    if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
        case.body = valid_registration_body(next(_numbers))
    return case


def valid_registration_body(number: int) -> dict[str, Any]:
    """A registration of the user guide's shape with the ``number``-th new identity."""
    return {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [
            {
                "firstName": "Tom",
                "lastName": "Sawyer",
                "source": "INSTORE",
                "identifiers": [
                    {"type": "mobile", "value": f"91981{number:07d}"},
                    {"type": "email", "value": f"generated{number}@example.com"},
                    {"type": "externalId", "value": f"G{number}"},
                ],
            }
        ],
    }
