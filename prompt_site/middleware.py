"""Middleware of the site itself."""
from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.db import connections
from django.urls import Resolver404, resolve


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (``CONTENT_SECURITY_POLICY``), letting sign-in's forms go on to Microsoft.

    A form posted to /signin/ is answered with a redirect to the tenant's authorization page,
    and browsers apply ``form-action`` to that redirect too; the authority is read per request
    so that it always follows ``AZURE_AUTHORITY``.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        authority = settings.AZURE_AUTHORITY.rstrip("/")
        parts.update = {**(parts.update or {}), "form-action": [authority]}
        return parts


# Served before the admin's middleware (see LeanPathMiddleware).
LEAN_PATH_PREFIXES = ("/api/authentication/scim", "/api/authentication/oauth2/", "/healthz", "/readyz", "/metrics")


class LeanPathMiddleware:
    """Dispatch the SCIM API and the health endpoints without the rest of the middleware.

    They use no session, cookie, CSRF token, message or signed-in person, so running sessions,
    CSRF, authentication, messages, CSP and frame options for each SCIM request would only cost
    time. Placed right after SecurityMiddleware (HTTPS redirect, HSTS), it resolves these paths
    and calls their views itself; every other path, the admin's included, goes down the whole
    stack as before.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(LEAN_PATH_PREFIXES):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        request.resolver_match = match
        # No "SELECT 1" round trip to test a reused connection first (CONN_HEALTH_CHECKS): if the
        # database went away meanwhile, the request's first query fails, the API answers 503 with
        # Retry-After (which Entra ID retries), and Django drops the broken connection when the
        # request ends, so the next one reconnects. The admin keeps its health checks.
        for connection in connections.all(initialized_only=True):
            connection.health_check_done = True
        response = match.func(request, *match.args, **match.kwargs)
        if callable(getattr(response, "render", None)):
            response = response.render()  # DRF's Response is a template response
        return response
