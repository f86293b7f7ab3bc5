"""``GET /ui``: the agents' review page, a static file served by the service itself.

The page holds no data: it signs in with the agent's token (kept in the tab's sessionStorage) and uses the
JSON routes, so every decision stays with the route table. Ticket text is only ever set as text, never as
HTML, and a Content-Security-Policy admits only this page's own script (by hash) and same-origin requests.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse


@lru_cache(maxsize=1)
def page() -> tuple[str, str]:
    """The page and its Content-Security-Policy (with the inline script's SHA-256)."""
    html = files("ticketops.serving").joinpath("static/review.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    policy = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, policy


async def review_page(request: Request) -> HTMLResponse:
    html, policy = page()
    return HTMLResponse(
        html,
        headers={"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )
