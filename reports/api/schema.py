"""The OpenAPI schema lists every status code an operation can answer, errors included.

An operation's own `extend_schema(responses=...)` describes its success and the errors particular
to it; the errors that come from the framework around every view (authentication, permissions,
throttling, the request parser, an unavailable database) are added here where it does not.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


ALWAYS = {
    "401": _error("No credentials, or an unknown, revoked or expired key or token."),
    "403": _error("These credentials may not use this operation."),
    "429": _error("Rate limit exceeded; Retry-After says when to try again."),
    "503": _error(
        "The database or the queue is temporarily unavailable; nothing was stored. Retry-After says when to "
        "try again (with the same Idempotency-Key, where the operation takes one)."
    ),
}
WITH_BODY = {
    "400": OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Malformed JSON (a `detail`), or invalid fields (a list of messages per field). JSON nested "
        "deeper than 32 levels and strings with NUL or a lone surrogate are malformed.",
    ),
    "413": _error("The request body is larger than the limit (50 MB by default)."),
    "415": _error("The request body is not JSON (`Content-Type: application/json`)."),
}
WITH_QUERY = {"400": OpenApiResponse(OpenApiTypes.OBJECT, description="A query parameter it cannot use.")}
NOT_FOUND = {"404": _error("No such object, or one these credentials may not see; or an invalid cursor.")}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        extra: dict[str, OpenApiResponse] = dict(ALWAYS)
        if self.method in ("POST", "PUT", "PATCH"):
            extra |= WITH_BODY
        is_list = self._is_list_view()
        if is_list:
            extra |= WITH_QUERY  # filters (and stats' own parameters, which it declares itself)
        if is_list or "{" in self.path:
            extra |= NOT_FOUND  # an unknown id; for a list, a cursor it did not hand out
        for code, response in extra.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)  # type: ignore[no-untyped-call]
        return dict(sorted(responses.items()))
