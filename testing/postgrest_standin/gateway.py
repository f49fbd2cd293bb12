"""What happens before PostgREST plans a query: Supabase's gateway key check, PostgREST's
Bearer check, and schema negotiation through the profile headers."""

from __future__ import annotations

import json

from testing.postgrest_standin.errors import JSON_UTF8, ApiError

# JWT-shaped (supabase-py < 2.16 rejects other keys): {"alg":"HS256","typ":"JWT"}.{"role":...}.sig
DEFAULT_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJzdXBhYmFzZSIsInJlZiI6InN0YW5kaW4iLCJyb2xlIjoic2VydmljZV9yb2xlIn0."
    "c3RhbmRpbi1ub3QtYS1yZWFsLXNpZ25hdHVyZQ"
)
_WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
_MISSING = {
    "message": "No API key found in request",
    "hint": "No `apikey` request header or url param was found.",
}
_INVALID = {
    "message": "Invalid API key",
    "hint": "Double check your Supabase `anon` or `service_role` API key.",
}


class GatewayError(ApiError):
    """Kong's 401: a two-key JSON body, no PostgREST code, no Proxy-Status."""

    def __init__(self, body: dict[str, str]) -> None:
        super().__init__(401, "", body["message"], hint=body["hint"])
        self._payload = body

    def body(self) -> bytes:
        return json.dumps(self._payload, separators=(",", ":")).encode()

    def response_headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", JSON_UTF8)]


def check_keys(key: str, headers: dict[str, str], pairs: list[tuple[str, str]]) -> None:
    """The gateway wants `apikey` (header, else query); PostgREST then checks the Bearer token."""
    given = headers.get("apikey")
    if given is None:
        given = next((v for k, v in pairs if k == "apikey"), None)
    if given is None:
        raise GatewayError(_MISSING)
    if given != key:
        raise GatewayError(_INVALID)
    auth = headers.get("authorization")
    if auth is None or not auth.lower().startswith("bearer"):
        return
    token = auth[len("bearer") :].strip()
    if token == key:
        return
    if not token:
        message = "Empty JWT is sent in Authorization header"
    elif token.count(".") != 2:
        message = f"Expected 3 parts in JWT; got {token.count('.') + 1}"
    else:
        message = "JWT cryptographic operation failed"
    challenge = f'Bearer error="invalid_token", error_description={json.dumps(message)}'
    raise ApiError(401, "PGRST301", message, headers=[("WWW-Authenticate", challenge)])


def negotiate_schema(
    method: str, headers: dict[str, str], schemas: tuple[str, ...]
) -> tuple[str, bool]:
    """(schema, negotiated): reads use Accept-Profile, writes Content-Profile (PGRST106 if
    not exposed); with several exposed schemas the default counts as negotiated too."""
    name = "content-profile" if method in _WRITE_METHODS else "accept-profile"
    profile = headers.get(name)
    if profile is None:
        return schemas[0], len(schemas) != 1
    if profile not in schemas:
        raise ApiError(
            406,
            "PGRST106",
            f"Invalid schema: {profile}",
            hint="Only the following schemas are exposed: " + ", ".join(schemas),
        )
    return profile, True
