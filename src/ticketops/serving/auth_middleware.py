"""The role decisions of auth.py as middleware: ASGI (the BentoML service, Starlette apps) and aiohttp
(the local splitter's admin API, the retrain webhook). 401 carries ``WWW-Authenticate: Bearer``; 403 names
the role that may not call the route, never the token."""

from __future__ import annotations

from ticketops.serving.auth import Authorizer, logger

USER_SCOPE_KEY = "ticketops.user"  # where the ASGI middleware leaves the caller for the routes


class RoleAuthMiddleware:
    """ASGI middleware: ``Authorizer.decide`` on every HTTP request; the caller goes into the scope."""

    def __init__(self, app, authorizer: Authorizer):
        self.app = app
        self.authorizer = authorizer
        if not authorizer.directory.configured:
            logger.warning("neither TICKETOPS_AUTH_FILE nor TICKETOPS_API_TOKEN is set: every route is open")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        decision = self.authorizer.decide(scope["method"], scope["path"], header)
        if decision.status == 200:
            scope[USER_SCOPE_KEY] = decision.user
            await self.app(scope, receive, send)
            return
        from ticketops.serving.errors import error_response

        if decision.status == 401:
            response = error_response(
                401, "unauthorized", decision.message, headers={"WWW-Authenticate": 'Bearer realm="ticketops"'}
            )
        else:
            response = error_response(403, "forbidden", decision.message)
        await response(scope, receive, send)


def aiohttp_middleware(authorizer: Authorizer):
    """The same decisions for an aiohttp app (splitter admin API, retrain webhook); caller in ``request["user"]``."""
    from aiohttp import web

    @web.middleware
    async def middleware(request, handler):
        decision = authorizer.decide(request.method, request.path, request.headers.get("Authorization"))
        if decision.status == 401:
            return web.json_response(
                {"error": "unauthorized", "message": decision.message},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="ticketops"'},
            )
        if decision.status == 403:
            return web.json_response({"error": "forbidden", "message": decision.message}, status=403)
        request["user"] = decision.user
        return await handler(request)

    return middleware
