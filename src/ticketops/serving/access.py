"""Who may call which route of the classifier service: one explicit decision per route (and method).

A test walks the routes of the real ASGI app (the contract app and BentoML's own) and fails when one is
missing here, then checks every role against every route. A route nobody listed needs a signed-in user of any
role (and then answers 404): nothing is open by omission.
"""

from __future__ import annotations

from ticketops.serving.auth import ADMINS, AGENTS, ANY_USER, PUBLIC, Authorizer, Role, UserDirectory

ROUTE_POLICY: dict[str, frozenset[Role]] = {
    # the contract
    "/classify": ANY_USER,
    "/feedback": AGENTS,
    "/metrics": PUBLIC,  # Prometheus scrapes without credentials (k8s NetworkPolicy limits who can)
    "/livez": PUBLIC,
    "/readyz": PUBLIC,
    # people
    "/review": AGENTS,
    "/adjudication": ADMINS,
    "/audit": ADMINS,
    "GET /labels": AGENTS,  # the catalogue an agent picks from
    "POST /labels": ADMINS,  # a new category
    "/labels": ADMINS,  # any other method
    "/whoami": ANY_USER,  # the page's sign-in: name, role, labels today
    "/ui": PUBLIC,  # a static page with no data; everything it shows comes through the routes above
    # added by BentoML
    "/healthz": PUBLIC,  # alias of /livez
    "/": ANY_USER,  # BentoML's UI
    "/docs.json": ANY_USER,  # the OpenAPI document (serving/openapi.py replaces BentoML's)
    "/openapi.json": ANY_USER,  # the same document
    "/schema.json": ANY_USER,
    "/static_content": ANY_USER,
}

ROUTE_PATHS = frozenset(key.rpartition(" ")[2] for key in ROUTE_POLICY)


def service_authorizer(directory: UserDirectory) -> Authorizer:
    return Authorizer(directory, ROUTE_POLICY)
