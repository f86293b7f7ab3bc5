"""The HTTP contract's own routes (``POST /classify``, ``POST /feedback``, ``GET /metrics``) as a Starlette app.

BentoML mounts this app next to its probes (``/livez``, ``/readyz``). Plain Starlette keeps full control of
status codes and error bodies (413/400/422/429/503/504, see limits.py) and costs one pass through the
HTTP stack per request, which matters on two cores. Overload is refused early (429) instead of queueing
without bound, and every request has a deadline (504); either way the service keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ticketops.schemas import ClassifyRequest, FeedbackRequest
from ticketops.serving.batching import BatcherClosed
from ticketops.serving.errors import ApiError, FieldProblem, error_response
from ticketops.serving.limits import check_classify_limits, parse_json, read_body
from ticketops.serving.metrics import CONTENT_TYPE
from ticketops.serving.redaction import redact
from ticketops.serving.runtime import NotReady, ServingRuntime, UnknownLabels
from ticketops.settings import SHADOW_HEADER

logger = logging.getLogger("ticketops.serving")

RuntimeProvider = Callable[[], ServingRuntime | None]
Work = Callable[[ServingRuntime, bytes], Awaitable[dict]]


class Admission:
    """Requests in flight on the work routes; beyond the limit new ones get 429 at once."""

    def __init__(self) -> None:
        self.in_flight = 0


def build_contract_app(runtime: RuntimeProvider) -> Starlette:
    """The contract routes; ``runtime()`` returns the replica's runtime (None before the service exists)."""
    admission = Admission()

    async def guarded(route: str, request: Request, work: Work) -> Response:
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
                body = await read_body(request, settings.max_body_bytes)
                return JSONResponse(await work(rt, body))
        except ApiError as exc:
            return exc.response()
        except NotReady:
            return error_response(503, "not_ready", "no verified model is loaded yet (see /readyz and the log)")
        except BatcherClosed:
            return error_response(503, "shutting_down", "the service is shutting down")
        except UnknownLabels as exc:
            problems = [
                FieldProblem(f"items.{i}.label", "not a label of the served model", "unknown_label")
                for i in exc.positions
            ]
            return error_response(400, "unknown_label", "feedback names labels the model does not know", problems)
        except TimeoutError:
            return error_response(504, "timeout", f"no answer within {settings.request_timeout_s:g}s")
        except Exception as exc:  # the reason goes to the log (redacted), never the text to the client
            logger.error("%s failed: %s: %s", route, type(exc).__name__, redact(str(exc))[:200])
            return error_response(500, "internal_error", "unexpected error; see the service log")
        finally:
            admission.in_flight -= 1

    async def classify_work(rt: ServingRuntime, body: bytes, shadow: bool = False) -> dict:
        payload = parse_json(ClassifyRequest, body)
        check_classify_limits(payload, rt.settings.max_tickets, rt.settings.max_text_chars)
        return await rt.classify(payload, log=not shadow)

    async def feedback_work(rt: ServingRuntime, body: bytes) -> dict:
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
        return await rt.feedback(payload)

    async def classify(request: Request) -> Response:
        # A copy mirrored by the splitter in a rollout's shadow phase: answered and counted in the metrics, but
        # not logged (its answer is discarded; a second row per ticket id would take the agent's label).
        shadow = request.headers.get(SHADOW_HEADER) == "1"
        return await guarded("/classify", request, lambda rt, body: classify_work(rt, body, shadow))

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
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.admission = admission
    return app
