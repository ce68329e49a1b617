"""``/profiles/new``: Create new Profile, in the steps of the user guide.

**Create new Profile** → **Create individually** (or **Upload file**, the import) →
identification (full name; mobile or email) and the org's custom fields → **Continue** →
consent per channel → **Save**. The first step's values travel with the form to the
second, nothing is stored before **Save**; the service then checks every field at once
(the org's mandatory fields too) and a refusal brings its step back with the message
beside the field. If the org's synchronization rule finds the person already, their
profile is updated instead, and the profile page says so.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from patron.api.deps import engine_of
from patron.auth.actor import Actor
from patron.customer.by_hand import ProfileByHand, create_profile_by_hand
from patron.customer.registration import LOYALTY_TYPES
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.orgs.settings import CUSTOM_FIELD_PREFIX
from patron.web.deps import editor
from patron.web.templating import render

router = APIRouter(include_in_schema=False)

#: Form field names of the custom fields: ``attr.<name>``.
ATTRIBUTE = "attr."
STEPS = ("Identification and attributes", "Consent", "Save")
#: The service's error keys that belong to the consent step; the others are the first step's.
CONSENT_KEYS = ("consent.mobile", "consent.email")
CHANNELS = {"mobile": "SMS to the mobile number", "email": "Email to the address"}


async def _form(request: Request) -> FormData:
    """The posted form (read once; the CSRF check read it already)."""
    return await request.form()


@router.get("/profiles/new")
def new_profile(request: Request, _actor: Actor = Depends(editor)) -> Response:
    """Create new Profile: individually, or by uploading a file."""
    return render(request, "profiles/new.html")


@router.get("/profiles/new/individual")
def individual_form(request: Request, actor: Actor = Depends(editor)) -> Response:
    """The first step: identification and the org's custom fields."""
    return _step(request, actor, "identify", {})


@router.post("/profiles/new/individual")
def individual_step(
    request: Request, form: FormData = Depends(_form), actor: Actor = Depends(editor)
) -> Response:
    """**Continue** to the consent step, **Back** to the first, or **Save** the profile."""
    values = {key: str(value) for key, value in form.multi_items() if isinstance(value, str)}
    action = values.get("step", "")
    if action == "save":
        return _save(request, actor, values)
    return _step(request, actor, "consent" if action == "consent" else "identify", values)


def _save(request: Request, actor: Actor, values: dict[str, str]) -> Response:
    profile = ProfileByHand(
        full_name=values.get("full_name", ""),
        mobile=values.get("mobile", ""),
        email=values.get("email", ""),
        external_id=values.get("external_id", ""),
        attributes={
            key.removeprefix(ATTRIBUTE): value
            for key, value in values.items()
            if key.startswith(ATTRIBUTE)
        },
        consent={channel: values.get(f"consent.{channel}") or None for channel in CHANNELS},
        loyalty_type=values.get("loyalty_type", "non_loyalty"),
        store=values.get("store", ""),
    )
    with transaction(engine_of(request)) as conn:
        result = create_profile_by_hand(conn, actor, profile)
    if result.errors or result.customer_id is None:
        errors: dict[str, str] = {}
        for key, error in result.errors.items():
            name = _input_of(key)
            errors[name] = f"{errors[name]} {error.message}" if name in errors else error.message
        step = "consent" if set(errors) <= set(CONSENT_KEYS) else "identify"
        return _step(request, actor, step, values, errors=errors, status_code=400)
    if result.created:
        target = f"/profiles/{result.customer_id}?saved=created"
    else:
        matched = ",".join(result.matched_by or ())
        target = f"/profiles/{result.customer_id}?saved=updated&matched={matched}"
    return RedirectResponse(target, status_code=303)


def _input_of(key: str) -> str:
    """The form input a field of the service's answer is typed in."""
    if key in ("fullName", "firstName", "lastName"):
        return "full_name"
    if key.startswith(CUSTOM_FIELD_PREFIX):
        return ATTRIBUTE + key.removeprefix(CUSTOM_FIELD_PREFIX)
    return _INPUTS.get(key, key)


_INPUTS = {"externalId": "external_id", "loyaltyType": "loyalty_type"}


def _step(
    request: Request,
    actor: Actor,
    step: str,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with transaction(engine_of(request), write=False) as conn:
        settings = orgs.get_settings(conn, actor.org_id)
        fields = [
            d
            for d in orgs.list_fields(conn, actor.org_id)
            if d.kind == "custom" and d.scope == "customer"
        ]
    # The service always wants a full name; the org may want more.
    required = {"full_name"} | {_input_of(name) for name in settings.manual_required_fields}
    context: dict[str, Any] = {
        "step": step,
        "steps": STEPS,
        "values": values,
        "errors": errors or {},
        "fields": fields,
        "required": required,
        "attribute": ATTRIBUTE,
        "loyalty_types": LOYALTY_TYPES,
        "channels": {c: label for c, label in CHANNELS.items() if values.get(c, "").strip()},
        # What the first step carries to the second, as hidden fields.
        "carried": {
            key: value
            for key, value in values.items()
            if key not in ("csrf_token", "step") and not key.startswith("consent.")
        },
        "consent": {key: value for key, value in values.items() if key.startswith("consent.")},
    }
    return render(request, "profiles/individual.html", context, status_code=status_code)
