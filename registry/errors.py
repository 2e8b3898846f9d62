"""Registry errors: one exception type carrying the spec's error code, HTTP status and message.

Handlers raise `RegistryError`; the error middleware turns it into the spec's JSON body
(`{"errors":[{"code","message","detail"}]}`), so no handler formats an error response itself.
It subclasses ImgtoolError so the same failures surface as one-line messages from the CLI (e.g. gc).
"""

from __future__ import annotations

import json
from typing import Any

from imgtool.errors import ImgtoolError

# code -> default HTTP status (distribution-spec "Error Codes", plus the legacy Docker ones)
STATUS = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
    "PAGINATION_NUMBER_INVALID": 400,
    "RANGE_INVALID": 416,
    "UNKNOWN": 500,
}


class RegistryError(ImgtoolError):
    """A client-visible failure: spec error `code`, HTTP `status`, one-line message, extra headers."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.status = status if status is not None else STATUS[code]
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> bytes:
        """The JSON error body the spec prescribes."""
        error: dict[str, Any] = {"code": self.code, "message": str(self)}
        if self.detail is not None:
            error["detail"] = self.detail
        return json.dumps({"errors": [error]}).encode()
