"""A customer's image: ``POST /v2/customers/{id}/setImage`` (a form with ``file``), the
image itself at ``/v2/customers/{id}/image``, and ``embed=CUSTOMERIMAGE`` on the details."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Response, UploadFile

from patron.api import deps
from patron.api.deps import Db, TransactionRoute
from patron.api.params import CustomerId
from patron.auth.actor import Actor
from patron.codes import generic
from patron.customer import image
from patron.customer.record_answers import ImageUploadAnswer, RecordDeleted

router = APIRouter(prefix="/v2/customers", tags=["customer image"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(deps.viewer)]
Editor = Annotated[Actor, Depends(deps.editor)]


@router.post("/{customer_id:id}/setImage", response_model=ImageUploadAnswer)
def set_image(
    customer_id: CustomerId,
    conn: Db,
    actor: Editor,
    file: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    """Set a customer's image: JPEG, PNG or WebP (judged by content), kept without metadata."""
    # The body is bounded already (PATRON_MAX_REQUEST_BYTES); the org's limit is checked next.
    data = file.file.read() if file is not None else b""
    shown, warnings = image.set_image(conn, actor, customer_id, data)
    return {
        "data": [
            {
                "code": generic.SUCCESS,
                "file": shown,
                "message": "Successfully uploaded file",
                "status": "true",
            }
        ],
        "warnings": [w.as_dict() for w in warnings],
        "errors": [],
    }


@router.get(
    "/{customer_id:id}/image",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
            "description": "The image, as stored: JPEG, PNG or WebP.",
        }
    },
)
def get_image(customer_id: CustomerId, conn: Db, actor: Viewer) -> Response:
    """The customer's image, as stored (re-encoded, without metadata)."""
    content, content_type, handle = image.image(conn, actor.org_id, customer_id)
    extension = image.KINDS[content_type].extension
    return Response(
        content,
        media_type=content_type,
        headers={
            # Served as the image it is, never sniffed or run as anything else.
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": f'inline; filename="customer-{customer_id}.{extension}"',
            "Cache-Control": "private, no-cache",
            "ETag": f'"{handle}"',
        },
    )


@router.delete("/{customer_id:id}/image", response_model=RecordDeleted)
def delete_image(customer_id: CustomerId, conn: Db, actor: Editor) -> dict[str, Any]:
    """Remove a customer's image."""
    image.remove_image(conn, actor, customer_id)
    return {"id": customer_id, "deleted": True, "warnings": []}
