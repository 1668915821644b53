"""Who may change the corpus: the bearer of `settings.admin_token` (LEADGRAPH_ADMIN_TOKEN).

Without a token configured, the admin endpoints are off (403 for everyone); with one, a request
must send `Authorization: Bearer <token>` (401 otherwise, with `WWW-Authenticate: Bearer`).
The token is compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .deps import SettingsDep
from .errors import Forbidden, Unauthorized

admin_bearer = HTTPBearer(
    auto_error=False,  # the refusals below use the one error body
    scheme_name="adminToken",
    description="the value of LEADGRAPH_ADMIN_TOKEN",
)

Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(admin_bearer)]


def require_admin(settings: SettingsDep, credentials: Credentials) -> None:
    """Passes the bearer of the admin token; raises Forbidden when admin is off, Unauthorized
    when the token is missing or wrong."""
    token = settings.admin_token
    if token is None:
        raise Forbidden(
            "admin endpoints are disabled: start the service with LEADGRAPH_ADMIN_TOKEN set",
            code="admin_disabled",
        )
    if credentials is None:
        raise Unauthorized("Authorization: send `Bearer <admin token>`")
    # bytes, so a token of any characters compares in constant time
    if not hmac.compare_digest(
        credentials.credentials.encode("utf-8"), token.get_secret_value().encode("utf-8")
    ):
        raise Unauthorized("Authorization: wrong bearer token")


AdminDep = Depends(require_admin)
