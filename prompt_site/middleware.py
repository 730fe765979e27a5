"""Middleware of the site itself."""
from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings


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
