"""Bearer credential (a Provisioning Authentication Code or an OAuth access token) → its organisation."""
from __future__ import annotations

import logging

from django.views.decorators.debug import sensitive_variables
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from ..codes import tokens
from ..codes.actions import provisioning_code_mark_used
from ..models import OAuthAccessToken, ProvisioningCode
from ..oauth import tokens as oauth_tokens
from ..oauth.actions import oauth_access_token_mark_used
from .throttling import client_address

logger = logging.getLogger(__name__)

REALM = "Prompt SCIM"
KEYWORD = b"bearer"
# Set in the WSGI environ of the Azure AD page's "Check the connection" requests (health.self_check).
# Servers put every request header under an HTTP_ key, so no HTTP client can set this one.
SELF_CHECK_ENVIRON_KEY = "prompt.self_check"


def is_self_check(request) -> bool:
    """Whether the request is the site's own connection check rather than Entra ID's."""
    return request.META.get(SELF_CHECK_ENVIRON_KEY) is True


class ProvisioningCredentialAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer <code or access token>``; ``request.auth`` becomes it.

    There is no Prompt user behind a credential, so ``request.user`` is ``None``; the
    organisation is ``request.auth.organisation``. A code and an access token have the same reach.
    """

    # Error reports must not show the presented value (here or in anything this calls).
    @sensitive_variables()
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise self.failed(request, "The Authorization header must be 'Bearer <code>'.")
        try:
            value = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise self.failed(request, "The Authorization header must be 'Bearer <code>'.") from None
        if oauth_tokens.looks_like_access_token(value):
            token = oauth_tokens.access_token_for_bearer(value)
            if token is None:
                raise self.failed(
                    request,
                    "The access token is not valid or has expired, or automated user provisioning is not "
                    "enabled for its organisation. Request a new token.",
                )
            # A self-check is not Entra's use of the token: nothing about it is written.
            if not is_self_check(request):
                oauth_access_token_mark_used(token=token)
            return (None, token)
        code = tokens.code_for_bearer(value)
        if code is None:
            # The same answer for wrong, revoked and expired codes and for provisioning turned
            # off, so a caller learns nothing about which codes exist.
            raise self.failed(
                request,
                "The Provisioning Authentication Code is not valid, or automated user provisioning "
                "is not enabled for its organisation.",
            )
        # A self-check is not Entra's use of the code: marking a new code's first use would
        # revoke the older codes Entra ID may still be sending.
        if not is_self_check(request):
            provisioning_code_mark_used(code=code)
        return (None, code)

    def authenticate_header(self, request) -> str:
        # Returning a value keeps DRF answering 401 (not 403) when authentication fails.
        return f'Bearer realm="{REALM}"'

    @staticmethod
    def failed(request, detail: str) -> AuthenticationFailed:
        # Never log the presented value: it may be a real code with a typo.
        logger.warning(
            "SCIM authentication failed from %s: %s %s", client_address(request), request.method, request.path
        )
        return AuthenticationFailed(detail)


class HasProvisioningCredential(BasePermission):
    """Allow only requests authenticated with a Provisioning Authentication Code or an access token."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, (ProvisioningCode, OAuthAccessToken))
