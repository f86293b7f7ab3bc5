"""The service's own routes as a Starlette app: the contract (``/classify``, ``/feedback``, ``/metrics``) and the
people's routes (``/review``, ``/adjudication``, ``/labels``, ``/audit``, ``/whoami`` and the agents' page ``/ui``).
Who may call which is decided before a request gets here (serving/access.py); the caller is in the scope.

BentoML mounts this app next to its probes (``/livez``, ``/readyz``). Plain Starlette keeps full control of
status codes and error bodies (413/400/422/429/503/504, see limits.py) and costs one pass through the
HTTP stack per request, which matters on two cores. Overload is refused early (429) instead of queueing
without bound, and every request has a deadline (504); either way the service keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import anyio.to_thread
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ticketops.audit import parse_since
from ticketops.schemas import CategoryRequest, ClassifyRequest, FeedbackRequest
from ticketops.serving.auth import ANONYMOUS, User
from ticketops.serving.auth_middleware import USER_SCOPE_KEY
from ticketops.serving.batching import BatcherClosed
from ticketops.serving.errors import ApiError, FieldProblem, error_response
from ticketops.serving.limits import (
    check_classify_limits,
    check_content_type,
    check_feedback_content,
    parse_json,
    read_body,
)
from ticketops.serving.metrics import CONTENT_TYPE
from ticketops.serving.redaction import redact
from ticketops.serving.runtime import NotReady, ServingRuntime
from ticketops.serving.ui import review_page
from ticketops.settings import SHADOW_HEADER

logger = logging.getLogger("ticketops.serving")

RuntimeProvider = Callable[[], ServingRuntime | None]
Work = Callable[[ServingRuntime, Request, bytes], Awaitable[dict]]
DEFAULT_PAGE, MAX_PAGE = 20, 200
LIMIT = frozenset({"limit"})


def caller(request: Request) -> User:
    """The authenticated user (the auth middleware put it in the scope; no credentials configured: local admin)."""
    return request.scope.get(USER_SCOPE_KEY) or ANONYMOUS


def check_query(request: Request, allowed: frozenset[str]) -> None:
    """422 on a query parameter the route does not define (a typo would otherwise be silently ignored).

    The parameter's name is not echoed: like a JSON key, it is the client's text.
    """
    unknown = [name for name in request.query_params if name not in allowed]
    if unknown:
        expected = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            422,
            "validation_error",
            f"unknown query parameter(s); this route takes: {expected}",
            [FieldProblem("query", f"only {expected}", "extra_forbidden")],
        )


def query_limit(request: Request, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    raw = request.query_params.get("limit")
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise ApiError(422, "validation_error", f"limit must be 1..{maximum}", [FieldProblem("limit", f"1..{maximum}")])
    return value


class Admission:
    """Requests in flight on the work routes; beyond the limit new ones get 429 at once."""

    def __init__(self) -> None:
        self.in_flight = 0


def build_contract_app(runtime: RuntimeProvider) -> Starlette:
    """The contract routes; ``runtime()`` returns the replica's runtime (None before the service exists)."""
    admission = Admission()

    async def guarded(route: str, request: Request, work: Work, query: frozenset[str] = frozenset()) -> Response:
        rt = runtime()
        if rt is None:
            return error_response(503, "not_ready", "service is starting")
        settings = rt.settings
        if admission.in_flight >= settings.max_concurrency:
            return error_response(
                429,
                "too_many_requests",
                f"more than {settings.max_concurrency} requests in flight; retry shortly",
                headers={"Retry-After": "1"},
            )
        admission.in_flight += 1
        try:
            async with asyncio.timeout(settings.request_timeout_s):
                check_query(request, query)
                body = b""
                if request.method == "POST":
                    check_content_type(request)
                    body = await read_body(request, settings.max_body_bytes)
                return JSONResponse(await work(rt, request, body))
        except ApiError as exc:
            return exc.response()
        except NotReady:
            return error_response(503, "not_ready", "no verified model is loaded yet (see /readyz and the log)")
        except OperationalError as exc:  # the log database is away: classify still answers, these routes wait for it
            logger.warning("%s: the prediction log is unavailable: %s", route, redact(str(exc))[:200])
            return error_response(503, "database_unavailable", "the prediction log's database is unavailable")
        except BatcherClosed:
            return error_response(503, "shutting_down", "the service is shutting down")
        except TimeoutError:
            return error_response(504, "timeout", f"no answer within {settings.request_timeout_s:g}s")
        except Exception as exc:  # the reason goes to the log (redacted), never the text to the client
            logger.error("%s failed: %s: %s", route, type(exc).__name__, redact(str(exc))[:200])
            return error_response(500, "internal_error", "unexpected error; see the service log")
        finally:
            admission.in_flight -= 1

    async def classify_work(rt: ServingRuntime, request: Request, body: bytes) -> dict:
        payload = parse_json(ClassifyRequest, body)
        check_classify_limits(payload, rt.settings.max_tickets, rt.settings.max_text_chars)
        # A copy mirrored by the splitter in a rollout's shadow phase: answered and counted in the metrics, but
        # not logged (its answer is discarded; a second row per ticket id would take the agent's label).
        shadow = request.headers.get(SHADOW_HEADER) == "1"
        return await rt.classify(payload, log=not shadow)

    async def feedback_work(rt: ServingRuntime, request: Request, body: bytes) -> dict:
        payload = parse_json(FeedbackRequest, body)
        if len(payload.items) > rt.settings.max_tickets:
            raise ApiError(
                413,
                "too_many_items",
                f"at most {rt.settings.max_tickets} items per request",
                [FieldProblem("items", f"at most {rt.settings.max_tickets}", "too_many", rt.settings.max_tickets)],
            )
        limit = rt.settings.max_text_chars
        long = [i for i, item in enumerate(payload.items) if item.text is not None and len(item.text) > limit]
        if long:
            problems = [FieldProblem(f"items.{i}.text", f"at most {limit} characters", "too_long", limit) for i in long]
            raise ApiError(413, "text_too_long", f"feedback text longer than {limit} characters", problems)
        check_feedback_content(payload)
        return await rt.feedback(payload, caller(request))

    async def review_work(rt: ServingRuntime, request: Request, body: bytes) -> dict:
        limit = query_limit(request)
        model, _ = rt.require_model()
        return await anyio.to_thread.run_sync(rt.humans.queue, limit, model)

    async def adjudication_work(rt: ServingRuntime, request: Request, body: bytes) -> dict:
        limit = query_limit(request)
        rt.require_model()
        return await anyio.to_thread.run_sync(rt.humans.adjudication, limit)

    async def audit_work(rt: ServingRuntime, request: Request, body: bytes) -> dict:
        limit = query_limit(request, default=100, maximum=1000)
        try:
            since = parse_since(request.query_params.get("since"))
        except ValueError:
            raise ApiError(
                422, "validation_error", "since must be an ISO 8601 time", [FieldProblem("since", "ISO 8601")]
            ) from None
        rt.require_model()
        return await anyio.to_thread.run_sync(rt.humans.audit, limit, since)

    async def labels_work(rt: ServingRuntime, request: Request, body: bytes) -> dict:
        model, _ = rt.require_model()
        if request.method == "GET":
            return await anyio.to_thread.run_sync(rt.humans.labels, model.labels)
        payload = parse_json(CategoryRequest, body)
        return await anyio.to_thread.run_sync(
            rt.humans.add_category, payload.name, payload.description, caller(request)
        )

    async def whoami_work(rt: ServingRuntime, request: Request, body: bytes) -> dict:
        rt.require_model()
        return await anyio.to_thread.run_sync(rt.humans.whoami, caller(request))

    def handler(route: str, work: Work, query: frozenset[str] = frozenset()):
        async def endpoint(request: Request) -> Response:
            return await guarded(route, request, work, query)

        return endpoint

    async def classify(request: Request) -> Response:
        return await guarded("/classify", request, classify_work)

    async def feedback(request: Request) -> Response:
        return await guarded("/feedback", request, feedback_work)

    async def metrics(request: Request) -> Response:
        rt = runtime()
        if rt is None:
            return error_response(503, "not_ready", "service is starting")
        return Response(rt.metrics.render(), media_type=CONTENT_TYPE)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, "http_error", exc.detail, headers=exc.headers)

    app = Starlette(
        routes=[
            Route("/classify", classify, methods=["POST"]),
            Route("/feedback", feedback, methods=["POST"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/review", handler("/review", review_work, LIMIT), methods=["GET"]),
            Route("/adjudication", handler("/adjudication", adjudication_work, LIMIT), methods=["GET"]),
            Route("/audit", handler("/audit", audit_work, LIMIT | {"since"}), methods=["GET"]),
            Route("/labels", handler("/labels", labels_work), methods=["GET", "POST"]),
            Route("/whoami", handler("/whoami", whoami_work), methods=["GET"]),
            Route("/ui", review_page, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.admission = admission
    return app
