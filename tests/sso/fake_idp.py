"""A local stand-in for the Microsoft identity platform, served over HTTP on the loopback.

It publishes per-tenant discovery documents and a JWKS, auto-approves ``/authorize`` for a
configured identity, and at ``/token`` checks the client secret and the PKCE verifier before
returning an ID token. Tokens are signed here with ``cryptography`` directly, independently of
the library the site verifies them with.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class SigningKey:
    """An RSA key pair with a key id."""

    def __init__(self, kid: str | None = None):
        self.kid = kid or uuid.uuid4().hex
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "n": _int_b64url(numbers.n), "e": _int_b64url(numbers.e)}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": kid or self.kid}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


class FakeIdentityProvider:
    """The provider's state; tests change ``identity``, ``claim_overrides`` and keys between sign-ins."""

    def __init__(self, *, client_id: str, client_secret: str):
        self.client_id = client_id
        self.client_secret = client_secret
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- Test controls ---------------------------------------------------------------------

    def reset(self) -> None:
        self.keys = [SigningKey()]
        self.identity: dict[str, Any] = {}
        # Claims replacing the computed ones; a value of None removes the claim.
        self.claim_overrides: dict[str, Any] = {}
        # Signs with this key (under the published kid) instead of the published one.
        self.forged_key: SigningKey | None = None
        # Signs with a key that is never published.
        self.unpublished_key: SigningKey | None = None
        # An OAuth error to answer /authorize with instead of a code.
        self.authorize_error: str | None = None
        self.codes: dict[str, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()
        self.authorize_params: list[dict[str, str]] = []
        self.token_params: list[dict[str, str]] = []
        self.issued_id_tokens: list[str] = []

    def rotate_keys(self) -> SigningKey:
        """Publish a new key and retire the old one, as a tenant rolling its keys does."""
        self.keys = [SigningKey()]
        return self.keys[0]

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def issuer(self, tenant: str) -> str:
        return f"{self.url}/{tenant}/v2.0"

    # --- Server ----------------------------------------------------------------------------

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.idp = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- Endpoints -------------------------------------------------------------------------

    def discovery(self, tenant: str) -> dict[str, Any]:
        base = f"{self.url}/{tenant}"
        return {
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            # Like Microsoft's multi-tenant documents: the tenant is a placeholder.
            "issuer": f"{self.url}/{{tenantid}}/v2.0",
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "code_challenge_methods_supported": ["plain", "S256"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.keys]}

    def authorize(self, tenant: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.authorize_params.append(params)
        problems = []
        if params.get("response_type") != "code":
            problems.append("response_type must be code")
        if params.get("client_id") != self.client_id:
            problems.append("unknown client_id")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            problems.append("PKCE with S256 is required")
        if "openid" not in params.get("scope", "").split():
            problems.append("scope must include openid")
        for name in ("redirect_uri", "state", "nonce"):
            if not params.get(name):
                problems.append(f"{name} is required")
        if problems:
            return 400, {"Content-Type": "text/plain"}, "; ".join(problems).encode()
        if self.authorize_error:
            query = {"error": self.authorize_error, "error_description": "The user cancelled.", "state": params["state"]}
        else:
            code = secrets.token_urlsafe(24)
            self.codes[code] = {
                "tenant": tenant,
                "client_id": params["client_id"],
                "redirect_uri": params["redirect_uri"],
                "code_challenge": params["code_challenge"],
                "nonce": params["nonce"],
            }
            query = {"code": code, "state": params["state"]}
        return 302, {"Location": f"{params['redirect_uri']}?{urlencode(query)}"}, b""

    def token(self, tenant: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_params.append(params)
        if params.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(params.get("code", ""), None)
        if grant is None or grant["tenant"] != tenant or grant["redirect_uri"] != params.get("redirect_uri"):
            return 400, {"error": "invalid_grant", "error_description": "The code is unknown or was used."}
        verifier = params.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed."}
        now = int(time.time())
        claims: dict[str, Any] = {
            "ver": "2.0",
            "iss": self.issuer(tenant),
            "aud": self.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": tenant,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, str(self.identity.get("preferred_username")))),
            "sub": secrets.token_urlsafe(16),
            "nonce": grant["nonce"],
            **self.identity,
        }
        for name, value in self.claim_overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        published = self.keys[0]
        if self.forged_key is not None:
            id_token = self.forged_key.sign(claims, kid=published.kid)
        elif self.unpublished_key is not None:
            id_token = self.unpublished_key.sign(claims)
        else:
            id_token = published.sign(claims)
        self.issued_id_tokens.append(id_token)
        return 200, {"token_type": "Bearer", "access_token": secrets.token_urlsafe(24), "expires_in": 3600, "id_token": id_token}


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        return

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: dict[str, Any]) -> None:
        self._send(status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(document).encode())

    def _route(self) -> tuple[str, str, dict[str, str]]:
        parts = urlsplit(self.path)
        tenant, _, rest = parts.path.lstrip("/").partition("/")
        return tenant, rest, {k: v[0] for k, v in parse_qs(parts.query).items()}

    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's name
        idp: FakeIdentityProvider = self.server.idp  # type: ignore[attr-defined]
        tenant, rest, params = self._route()
        if rest == "v2.0/.well-known/openid-configuration":
            idp.requests["discovery"] += 1
            self._json(200, idp.discovery(tenant))
        elif rest == "discovery/v2.0/keys":
            idp.requests["jwks"] += 1
            self._json(200, idp.jwks())
        elif rest == "oauth2/v2.0/authorize":
            idp.requests["authorize"] += 1
            self._send(*idp.authorize(tenant, params))
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's name
        idp: FakeIdentityProvider = self.server.idp  # type: ignore[attr-defined]
        tenant, rest, _ = self._route()
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if rest == "oauth2/v2.0/token":
            idp.requests["token"] += 1
            self._json(*idp.token(tenant, form))
        else:
            self._json(404, {"error": "not_found"})
