"""Manual actions carried in an annotation, so no field a GitOps tool owns is ever touched.

`kubectl modelrollout promote` writes `modelrollout.io/request` = `{"id": <uuid4>, "action":
"promote", "at": <iso time>}`; the controller hands it to the engine, which handles each id
once (`status.lastRequestId`), so a request left in place is never acted on twice.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from controller.engine.inputs import ManualAction, ManualRequest
from controller.errors import SpecError

__all__ = ["REQUEST_ANNOTATION", "read_request", "new_request", "request_patch"]

REQUEST_ANNOTATION = "modelrollout.io/request"
_PATH = f".metadata.annotations[{REQUEST_ANNOTATION}]"


def read_request(metadata: dict[str, Any]) -> ManualRequest | None:
    """The request in the object's annotations; None when there is none.

    Raises SpecError naming the annotation when its value is not a valid request.
    """
    text = (metadata.get("annotations") or {}).get(REQUEST_ANNOTATION)
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(_PATH, f"is not JSON ({exc.msg}); expected {{\"id\": ..., \"action\": ...}}") from exc
    try:
        return ManualRequest.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "value"
        choices = ", ".join(a.value for a in ManualAction)
        raise SpecError(_PATH, f"{where}: {problem['msg']} (actions: {choices})") from exc


def new_request(action: ManualAction, now: datetime) -> ManualRequest:
    return ManualRequest(id=str(uuid.uuid4()), action=action, at=now)


def request_patch(request: ManualRequest) -> dict[str, Any]:
    """The merge patch that puts `request` on a ModelRollout."""
    text = request.model_dump_json(exclude_none=True)
    return {"metadata": {"annotations": {REQUEST_ANNOTATION: text}}}
