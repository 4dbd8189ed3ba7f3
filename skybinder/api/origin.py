"""Behind CloudFront: only requests that came through it reach the app, and the client's
address is the one CloudFront saw.

CloudFront adds a secret header to every request it sends to the API (infra/edge.py); anyone
can call the API Gateway endpoint directly, but without the secret, and so with no way to write
the headers the app trusts. The viewer's address then comes from `CloudFront-Viewer-Address`
(`<address>:<port>`), which CloudFront sets itself, and never from `X-Forwarded-For`, whose
first entries the client writes. Locally none of this applies: no secret is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Reached without CloudFront, by design: the Lambda Web Adapter's readiness check (from inside
# the function), and the admin API, which API Gateway authorises with IAM (SigV4) and which
# operators call at the API's own address.
EXEMPT_PREFIXES = ("/health", "/api/admin/")
REFUSAL = (
    "This binder answers only at its public address (its CloudFront URL or its own domain), "
    "not at the API Gateway address.\n"
)


class OriginCheck:
    """ASGI middleware: 403 for a request without the origin secret in `header`."""

    def __init__(self, app: ASGIApp, header: str, secret: Callable[[], str]) -> None:
        self.app = app
        self.header = header.lower().encode("latin-1")
        self.secret = secret  # read when first needed: it may come from SSM

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            await PlainTextResponse(REFUSAL, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        path = str(scope["path"])
        if path.startswith(EXEMPT_PREFIXES) or path == "/api/admin":
            return True
        expected = self.secret().encode("utf-8")
        sent = [v for k, v in scope["headers"] if k == self.header]
        # CloudFront sends the header once, in place of any a viewer sent: two are not its.
        return bool(expected) and len(sent) == 1 and hmac.compare_digest(sent[0], expected)


def viewer_address(header: str) -> Callable[[Request], str]:
    """The client's address from CloudFront's `header` (`1.2.3.4:5678`, `[2001:db8::1]:5678`
    or `2001:db8::1:5678`): everything before the last colon, without brackets."""
    name = header.lower()

    def address(request: Request) -> str:
        value = request.headers.get(name, "").strip()
        host = value.rpartition(":")[0] if ":" in value else value
        return host.strip("[]")

    return address
