"""``/v2/cards/...``: card series, cards and their status labels."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v2/cards", tags=["cards"])
