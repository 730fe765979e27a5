"""Check the connection: Entra ID's Test Connection requests, answered by this site's own SCIM views.

The Azure AD page's "Check the connection" runs ``connection_check``. It reads the organisation's
settings and current code, then sends the requests Entra ID sends (a random user, a random group,
the discovery documents) through the real URL resolver and SCIM views, in this process: a request
over the network to the site itself could deadlock a single sync worker. Each request carries the
environ key ``authentication.SELF_CHECK_ENVIRON_KEY``, so the views record no activity, mark no code
used (a new code's first use would revoke the older ones) and count no failed authentication.
Nothing is written and nobody is created.
"""
from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import SplitResult, urlencode, urlsplit

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.urls import get_script_prefix, resolve, reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from organisations.access import Actor, access_organisation_to_change
from organisations.models import Organisation

from ..api.authentication import SELF_CHECK_ENVIRON_KEY
from ..codes import tokens
from ..models import OAuthClient, ProvisioningCode
from ..protocol.constants import LIST_RESPONSE_URN, SCIM_MEDIA_TYPE

# The steps' names, as the page shows them.
SETTINGS, CREDENTIAL, FIND_USER, FIND_GROUP, DISCOVERY = (
    "Settings", "Credential", "Find a user", "Find a group", "Discovery documents"
)
DISCOVERY_PATHS = ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas")
QUARANTINE = "Entra ID would report invalid credentials and put the job in quarantine"
NEW_CODE = "generate a new code and paste it into Entra ID as the Secret Token."


@dataclass(frozen=True)
class CheckStep:
    """One step of the check; ``passed`` is None when it was not run (an earlier step made it pointless)."""

    name: str
    passed: bool | None
    summary: str
    explanation: str = ""


@dataclass(frozen=True)
class ConnectionCheck:
    """The steps, in order, as the Azure AD page lists them."""

    steps: list[CheckStep]

    @property
    def passed(self) -> bool:
        """Whether every step that ran passed."""
        return all(step.passed is not False for step in self.steps)


@dataclass(frozen=True)
class _Answer:
    """What the endpoint answered one request, as Entra ID would read it."""

    label: str
    status: int
    reason: str
    content_type: str
    body: dict

    @property
    def detail(self) -> str:
        return str(self.body.get("detail", "")) or self.reason


@sensitive_variables("plaintext")
def connection_check(*, acting: Actor, organisation: Organisation, site_url: str | None = None) -> ConnectionCheck:
    """Check the organisation's SCIM endpoint the way Entra ID's Test Connection does, writing nothing.

    ``site_url`` is the scheme and host the probes are addressed to: the admin page passes the
    one it was reached at (already checked against ALLOWED_HOSTS); ``SITE_URL`` otherwise.
    """
    # Read afresh: the check reports the settings as stored, not as a form last showed them.
    organisation = access_organisation_to_change(acting=acting, organisation_id=organisation.pk)
    settings_step, causes = _settings_step(organisation=organisation)
    code = ProvisioningCode.objects.filter(organisation=organisation).order_by("-created_at", "-id").first()
    client = OAuthClient.objects.filter(organisation=organisation).first()
    credential_step, skipped, refusal = _credential_step(organisation=organisation, code=code, client=client)
    if refusal is not None:
        causes.append(refusal)
    if skipped is None:
        try:
            plaintext = tokens.decrypt_code(code.encrypted)
        except tokens.CodeDecryptionError:
            credential_step = CheckStep(
                CREDENTIAL,
                False,
                f"Code {code} cannot be read.",
                f"This site can no longer decrypt code {code} (its key was removed from PROVISIONING_CODE_KEYS), "
                f"so the check cannot send Entra's requests with it; Entra ID can still use it. To check the "
                f"connection, {NEW_CODE}",
            )
            skipped = "The code cannot be read."
    if skipped is not None:
        probes = [CheckStep(name, None, skipped) for name in (FIND_USER, FIND_GROUP, DISCOVERY)]
        return ConnectionCheck([settings_step, credential_step, *probes])
    # Exactly as Entra ID sends them (entra-scim.md §1): random GUIDs in quotes, spaces as "+".
    site = urlsplit(site_url or settings.SITE_URL)
    find_user = _request(
        site=site, suffix="/Users", query=urlencode({"filter": f'userName eq "{uuid.uuid4()}"'}), bearer=plaintext
    )
    group_query = urlencode({"filter": f'displayName eq "{uuid.uuid4()}"', "excludedAttributes": "members"})
    find_group = _request(site=site, suffix="/Groups", query=group_query, bearer=plaintext)
    documents = [_request(site=site, suffix=path, query="", bearer=plaintext) for path in DISCOVERY_PATHS]
    return ConnectionCheck(
        [
            settings_step,
            credential_step,
            _lookup_step(name=FIND_USER, answer=find_user, causes=causes),
            _lookup_step(name=FIND_GROUP, answer=find_group, causes=causes),
            _discovery_step(answers=documents, causes=causes),
        ]
    )


def _settings_step(*, organisation: Organisation) -> tuple[CheckStep, list[str]]:
    """The settings step, and why the endpoint refuses every credential (if it does)."""
    # (what the summary calls a missing setting, what an Admin reads about it)
    missing: list[tuple[str, str]] = []
    causes: list[str] = []
    if not organisation.provisioning_enabled:
        explanation = (
            "Automated User Provisioning is off, so Entra ID's requests are refused. "
            "Tick Enable Automated User Provisioning above and save."
        )
        missing.append(("Automated User Provisioning is off", explanation))
        causes.append("Automated User Provisioning is off")
    if organisation.azure_tenant_id is None:
        explanation = (
            "No Tenancy ID is set: sign-in with Microsoft and workload identity federation need it. "
            "Enter your Entra ID tenant's Directory (tenant) ID as the Tenancy ID above and save."
        )
        missing.append(("no Tenancy ID", explanation))
    if organisation.default_department_id is None:
        explanation = (
            "No Default Department is chosen, so new users from Entra ID would land in no department. "
            "Choose one under User Creation Details above and save."
        )
        missing.append(("no Default Department", explanation))
    if organisation.default_section_id is None:
        explanation = (
            "No Default Section is chosen, so new users from Entra ID would land in no section. "
            "Choose one under User Creation Details above and save."
        )
        missing.append(("no Default Section", explanation))
    if not missing:
        summary = "Automated User Provisioning is on; the Tenancy ID, Default Department and Default Section are set."
        return CheckStep(SETTINGS, True, summary), causes
    summary = f"Needs attention: {', '.join(short for short, _ in missing)}."
    return CheckStep(SETTINGS, False, summary, " ".join(explanation for _, explanation in missing)), causes


def _credential_step(
    *, organisation: Organisation, code: ProvisioningCode | None, client: OAuthClient | None
) -> tuple[CheckStep, str | None, str | None]:
    """The credential step, why the probes are skipped (None: they run), and why the endpoint refuses the code."""
    if client is not None and not client.accepts_code:
        return (
            CheckStep(
                CREDENTIAL,
                False,
                "Entra ID authenticates with the OAuth client.",
                "This organisation's OAuth client does not accept the Provisioning Authentication Code, so "
                "Entra ID authenticates with the OAuth client, whose secret only Entra ID holds: this check "
                "cannot send Entra's requests for it. Use Test Connection on the Provisioning page of your "
                "enterprise application in Entra ID instead.",
            ),
            "Entra ID authenticates with the OAuth client.",
            None,
        )
    if code is None:
        if organisation.provisioning_enabled:
            explanation = (
                "This organisation has no Provisioning Authentication Code: generate one with Generate new code "
                "above and paste it into Entra ID as the Secret Token."
            )
        else:
            # A code can only be generated while provisioning is on; turning it on issues the first one.
            explanation = (
                "This organisation has no Provisioning Authentication Code: enable Automated User Provisioning "
                "above and save, then paste the code that appears into Entra ID as the Secret Token."
            )
        return CheckStep(CREDENTIAL, False, "No Provisioning Authentication Code.", explanation), "No code to send.", None
    # A revoked or expired code still runs the probes: they show what Entra ID is answered.
    if code.revoked_at is not None:
        explanation = (
            f"The newest Provisioning Authentication Code ({code}) was revoked on {_utc(code.revoked_at)}: {NEW_CODE}"
        )
        step = CheckStep(CREDENTIAL, False, f"Code {code} was revoked.", explanation)
        return step, None, f"the newest code ({code}) was revoked"
    if code.expires_at is not None and code.expires_at <= timezone.now():
        explanation = (
            f"The newest Provisioning Authentication Code ({code}) expired on {_utc(code.expires_at)}: {NEW_CODE}"
        )
        step = CheckStep(CREDENTIAL, False, f"Code {code} has expired.", explanation)
        return step, None, f"the newest code ({code}) has expired"
    return CheckStep(CREDENTIAL, True, f"Code {code} is active."), None, None


def _lookup_step(*, name: str, answer: _Answer, causes: list[str]) -> CheckStep:
    """Entra's lookup of a random GUID: passed on 200 with an empty SCIM ListResponse."""
    failure = _failure(answer=answer, causes=causes)
    if failure is not None:
        return CheckStep(name, False, *failure)
    body = answer.body
    if LIST_RESPONSE_URN not in body.get("schemas", []) or body.get("totalResults") != 0 or body.get("Resources"):
        return CheckStep(
            name,
            False,
            f"{answer.label} answered 200, but not with an empty list.",
            f"{answer.label} answered 200 with {body.get('totalResults')!r} results for a random GUID; Entra ID "
            "expects an empty SCIM ListResponse (totalResults 0).",
        )
    return CheckStep(name, True, f"{answer.label} answered 200 with an empty list, as Entra ID expects.")


def _discovery_step(*, answers: list[_Answer], causes: list[str]) -> CheckStep:
    """The discovery documents: each passed on 200 with SCIM JSON."""
    for answer in answers:
        failure = _failure(answer=answer, causes=causes)
        if failure is not None:
            return CheckStep(DISCOVERY, False, *failure)
    return CheckStep(DISCOVERY, True, "GET /ServiceProviderConfig, /ResourceTypes and /Schemas answered 200 with SCIM JSON.")


def _failure(*, answer: _Answer, causes: list[str]) -> tuple[str, str] | None:
    """(summary, explanation) of an answer that is not a 200 with SCIM JSON; None for one that is."""
    if answer.status == 401:
        reason = f", because {' and '.join(causes)}." if causes else f". The endpoint said: {answer.detail}"
        return f"{answer.label} answered 401 {answer.reason}.", f"{QUARANTINE}{reason}"
    if answer.status != 200:
        summary = f"{answer.label} answered {answer.status} {answer.reason}."
        return summary, f"{answer.label} answered {answer.status}: {answer.detail}"
    if answer.content_type != SCIM_MEDIA_TYPE:
        media_type = answer.content_type or "no media type"
        explanation = f"{answer.label} answered as {media_type}; Entra ID expects every response as {SCIM_MEDIA_TYPE}."
        return f"{answer.label} answered 200 as {media_type}.", explanation
    return None


@sensitive_variables()
def _request(*, site: SplitResult, suffix: str, query: str, bearer: str) -> _Answer:
    """Send one GET below the SCIM base URL to the SCIM views in this process, as LeanPathMiddleware does."""
    script_name = get_script_prefix().rstrip("/")
    path_info = reverse("scim:base").removeprefix(script_name) + suffix
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": f"Bearer {bearer}",
        "SERVER_NAME": site.hostname,
        "SERVER_PORT": str(site.port or (443 if site.scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        # Sent from this server to itself.
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": site.scheme,
        "wsgi.input": io.BytesIO(b""),
        SELF_CHECK_ENVIRON_KEY: True,
    }
    request = WSGIRequest(environ)
    match = resolve(request.path_info)
    request.resolver_match = match
    response = match.func(request, *match.args, **match.kwargs)
    if callable(getattr(response, "render", None)):
        response = response.render()  # DRF's Response is a template response
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        body = {}
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    return _Answer(
        label=f"GET {suffix}",
        status=response.status_code,
        reason=response.reason_phrase,
        content_type=content_type,
        body=body if isinstance(body, dict) else {},
    )


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
