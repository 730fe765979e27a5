"""SCIM 2.0 endpoints (RFC 7644 §3) for the organisation a Provisioning Authentication Code selects.

Views only translate HTTP to selectors and actions and back. Every response is SCIM JSON,
every failure goes through ``scim_exception_handler``, and every authenticated request is
recorded as one ``ScimRequest``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse
from django.utils.functional import cached_property
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from organisations.access import Actor

from ..activity.recording import scim_request_record
from ..brake.actions import DeactivationHeldError
from ..codes.actions import credential_label, credential_name
from ..models import ScimRequest, ScimUser
from ..protocol.errors import NotFoundError, NotSupportedError
from ..protocol.filters import parse_filter
from ..protocol.messages import list_response, parse_pagination
from ..groups import actions as group_actions
from ..groups import selectors as group_selectors
from ..groups.resource import group_resource
from ..models import ScimGroup
from ..protocol.groups import project_group
from ..protocol.resource import project
from ..users import actions, mapping, selectors
from . import discovery, metrics
from .authentication import HasProvisioningCredential, ProvisioningCredentialAuthentication, is_self_check
from .exceptions import scim_exception_handler
from .openapi import openapi_document
from .parsers import ScimJSONParser, body_too_large
from .renderers import ScimContentNegotiation, ScimJSONRenderer
from .throttling import AuthenticationThrottledError, authentication_failure_record

logger = logging.getLogger(__name__)


@dataclass
class Audit:
    """What a view learnt about its request, for the ``ScimRequest`` record."""

    action: str = ""
    scim_user: ScimUser | None = None
    changes: dict = field(default_factory=dict)
    ignored: tuple[str, ...] = ()


class ScimView(APIView):
    """Base for every SCIM endpoint: code authentication, SCIM JSON, SCIM errors, recording."""

    authentication_classes = [ProvisioningCredentialAuthentication]
    permission_classes = [HasProvisioningCredential]
    parser_classes = [ScimJSONParser]
    renderer_classes = [ScimJSONRenderer]
    content_negotiation_class = ScimContentNegotiation
    throttle_classes: list = []
    # No OPTIONS metadata: OPTIONS is a 405 like any other unsupported method.
    metadata_class = None

    def get_exception_handler(self):
        return scim_exception_handler

    def dispatch(self, request, *args, **kwargs):
        started = time.monotonic()
        self.organisation = None
        self.audit = Audit()
        response = super().dispatch(request, *args, **kwargs)
        # The site's own connection check is not Entra's traffic: it stays out of the activity
        # and the metrics.
        if is_self_check(request):
            return response
        if self.organisation is not None:
            self._record(request, response, started)
        metrics.scim_request_observe(
            method=request.method,
            status=response.status_code,
            kind=self.metric_kind(self.request),
            seconds=time.monotonic() - started,
        )
        return response

    # The ``kind`` label of this view's requests, by method (see api.metrics).
    metric_kinds: dict[str, str] = {}

    def metric_kind(self, request) -> str:
        if self.audit.action == ScimRequest.Action.DEACTIVATED:
            return metrics.DEACTIVATE
        return self.metric_kinds.get(request.method, metrics.OTHER)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Reached only once the code authenticated and the permission check passed: the code
        # acts for its organisation, with the reach organisations.access gives a credential.
        self.organisation = request.auth.organisation
        self.acting = Actor.credential(organisation=self.organisation, label=credential_label(request.auth))
        # Refused before the body is read; the parser checks what is actually read as well.
        if _content_length(request) > settings.SCIM_MAX_BODY_BYTES:
            raise body_too_large()

    def handle_exception(self, exc):
        if isinstance(exc, DeactivationHeldError):
            # Recorded with whom it concerns: the activity and the person's timeline show the hold.
            self.audit = Audit(ScimRequest.Action.HELD, exc.scim_user)
        # Only failures are counted, so a valid code is never slowed down (see throttling); the
        # site's own connection check, sent from this server, is not counted against its address.
        failed = isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed))
        if failed and not is_self_check(self.request):
            wait = authentication_failure_record(self.request)
            if wait is not None:
                exc = AuthenticationThrottledError(wait)
        return super().handle_exception(exc)

    def _record(self, request, response, started: float) -> None:
        data = response.data if isinstance(response.data, dict) else {}
        failed = response.status_code >= 400
        # A failure names its action and user only when it is a deactivation the brake held.
        described = not failed or self.audit.action == ScimRequest.Action.HELD
        if failed:
            detail = str(data.get("detail", ""))
        else:
            detail = f"Ignored: {', '.join(self.audit.ignored)}" if self.audit.ignored else ""
        try:
            scim_request_record(
                organisation=self.organisation,
                method=request.method,
                # Relative to the base URL, like the paths Entra's own logs show; no query string.
                path=request.path.removeprefix(self.base_path) or "/",
                status=response.status_code,
                duration_ms=round((time.monotonic() - started) * 1000),
                scim_type=str(data.get("scimType", "")) if failed else "",
                detail=detail,
                action=self.audit.action if described else "",
                scim_user=self.audit.scim_user if described else None,
                changes=None if failed else self.audit.changes,
                credential=credential_name(request.auth),
            )
        except Exception:
            # The activity record must never turn Entra's answer into a failure.
            logger.exception("Could not record a SCIM request for organisation %s", self.organisation.pk)

    # --- helpers for subclasses -----------------------------------------------------------

    @cached_property
    def base_path(self) -> str:
        """The SCIM base path, reversed once per request (a view instance serves one)."""
        return reverse("scim:base")

    def absolute(self, relative: str) -> str:
        """Return the absolute URL of a path below the SCIM base URL."""
        return self.request.build_absolute_uri(self.base_path + relative)

    def user_location(self, scim_id) -> str:
        return self.absolute(f"/Users/{scim_id}")

    def user_body(self, scim_user: ScimUser) -> dict:
        body = mapping.user_resource(scim_user, location=self.user_location)
        attributes = _listed(self.request.query_params.get("attributes"))
        excluded = _listed(self.request.query_params.get("excludedAttributes"))
        return project(body, attributes=attributes, excluded=excluded) if attributes or excluded else body

    def written(self, write: actions.ScimUserWrite, status_code: int = status.HTTP_200_OK) -> Response:
        self.audit = Audit(write.action, write.scim_user, write.changes, write.ignored)
        headers = {"Location": self.user_location(write.scim_user.pk)} if status_code == 201 else None
        return Response(self.user_body(write.scim_user), status=status_code, headers=headers)


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _listed(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


class UsersView(ScimView):
    """``/Users``: query (Entra's lookups) and create."""

    metric_kinds = {"POST": metrics.CREATE}

    def metric_kind(self, request) -> str:
        if request.method == "GET":
            return metrics.LOOKUP if request.query_params.get("filter") else metrics.LIST
        return super().metric_kind(request)

    def get(self, request):
        params = request.query_params
        text = (params.get("filter") or "").strip()
        filter_expr = parse_filter(text) if text else None
        start_index, count = parse_pagination(
            params.get("startIndex"),
            params.get("count"),
            default_count=discovery.MAX_RESULTS,
            max_count=discovery.MAX_RESULTS,
        )
        page, total = selectors.scim_user_list(
            acting=self.acting, filter_expr=filter_expr, start_index=start_index, count=count
        )
        self.audit.action = ScimRequest.Action.READ
        if len(page) == 1:
            self.audit.scim_user = page[0]
        return Response(
            list_response(
                [self.user_body(scim_user) for scim_user in page],
                total_results=total,
                start_index=start_index,
                items_per_page=len(page),
            )
        )

    def post(self, request):
        write = actions.scim_user_create(acting=self.acting, body=request.data)
        return self.written(write, status.HTTP_201_CREATED)


class UserView(ScimView):
    """``/Users/{id}``: read, replace, patch and delete one user."""

    metric_kinds = {"GET": metrics.READ, "PUT": metrics.UPDATE, "PATCH": metrics.UPDATE, "DELETE": metrics.DELETE}

    def get(self, request, scim_id: str):
        scim_user = selectors.scim_user_get(acting=self.acting, scim_id=scim_id)
        self.audit = Audit(ScimRequest.Action.READ, scim_user)
        return Response(self.user_body(scim_user))

    def put(self, request, scim_id: str):
        return self.written(
            actions.scim_user_replace(acting=self.acting, scim_id=scim_id, body=request.data)
        )

    def patch(self, request, scim_id: str):
        return self.written(
            actions.scim_user_patch(acting=self.acting, scim_id=scim_id, body=request.data)
        )

    def delete(self, request, scim_id: str):
        write = actions.scim_user_delete(acting=self.acting, scim_id=scim_id)
        self.audit = Audit(write.action, write.scim_user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ServiceProviderConfigView(ScimView):
    metric_kinds = {"GET": metrics.DISCOVERY}

    def get(self, request):
        return Response(discovery.service_provider_config(self.absolute))


class ResourceTypesView(ScimView):
    metric_kinds = {"GET": metrics.DISCOVERY}

    def get(self, request):
        return Response(_complete_list(discovery.resource_types(self.absolute)))


class ResourceTypeView(ScimView):
    metric_kinds = {"GET": metrics.DISCOVERY}

    def get(self, request, name: str):
        found = next((rt for rt in discovery.resource_types(self.absolute) if rt["id"] == name), None)
        if found is None:
            raise NotFoundError(f"Resource type {name[:64]!r} not found.")
        return Response(found)


class SchemasView(ScimView):
    metric_kinds = {"GET": metrics.DISCOVERY}

    def get(self, request):
        return Response(_complete_list(discovery.schema_documents(self.absolute)))


class SchemaView(ScimView):
    metric_kinds = {"GET": metrics.DISCOVERY}

    def get(self, request, urn: str):
        document = discovery.schema_document_for(urn, self.absolute)
        if document is None:
            raise NotFoundError(f"Schema {urn[:128]!r} not found.")
        return Response(document)


def _complete_list(resources: list[dict]) -> dict:
    return list_response(resources, total_results=len(resources), start_index=1, items_per_page=len(resources))


class GroupViewMixin:
    """Group representations for ``/Groups`` views, with RFC 7644 §3.9 projection."""

    def _projection(self) -> tuple[list[str], list[str]]:
        params = self.request.query_params
        return _listed(params.get("attributes")), _listed(params.get("excludedAttributes"))

    def wants_members(self) -> bool:
        # Entra always asks for excludedAttributes=members: then the members are not even read.
        attributes, excluded = self._projection()
        probe = project_group({"members": []}, attributes=attributes, excluded=excluded)
        return "members" in probe

    def group_body(self, group: ScimGroup, member_ids: list | None) -> dict:
        body = group_resource(
            group,
            member_ids=member_ids,
            group_location=lambda pk: self.absolute(f"/Groups/{pk}"),
            user_location=self.user_location,
        )
        attributes, excluded = self._projection()
        return project_group(body, attributes=attributes, excluded=excluded) if attributes or excluded else body

    def group_written(self, write: group_actions.ScimGroupWrite) -> None:
        self.audit = Audit(write.action, None, write.changes, write.ignored)


class GroupsView(GroupViewMixin, ScimView):
    """``/Groups``: query (Entra's lookups by displayName) and create."""

    metric_kinds = {"POST": metrics.CREATE}

    def metric_kind(self, request) -> str:
        if request.method == "GET":
            return metrics.LOOKUP if request.query_params.get("filter") else metrics.LIST
        return super().metric_kind(request)

    def get(self, request):
        params = request.query_params
        text = (params.get("filter") or "").strip()
        start_index, count = parse_pagination(
            params.get("startIndex"),
            params.get("count"),
            default_count=discovery.MAX_RESULTS,
            max_count=discovery.MAX_RESULTS,
        )
        page, total = group_selectors.scim_group_list(
            acting=self.acting, filter_expr=parse_filter(text) if text else None, start_index=start_index, count=count
        )
        members = group_selectors.scim_group_member_ids(groups=page) if self.wants_members() else {}
        self.audit.action = ScimRequest.Action.READ
        return Response(
            list_response(
                [self.group_body(group, members.get(group.pk)) for group in page],
                total_results=total,
                start_index=start_index,
                items_per_page=len(page),
            )
        )

    def post(self, request):
        write = group_actions.scim_group_create(acting=self.acting, body=request.data)
        self.group_written(write)
        members = group_selectors.scim_group_member_ids(groups=[write.group])[write.group.pk]
        return Response(
            self.group_body(write.group, members),
            status=status.HTTP_201_CREATED,
            headers={"Location": self.absolute(f"/Groups/{write.group.pk}")},
        )


class GroupView(GroupViewMixin, ScimView):
    """``/Groups/{id}``: read, patch and delete one group.

    A PATCH answers 204 No Content, as Microsoft asks of group PATCHes: returning every member
    of a large group on each membership change is "not advisable" (MS-DEV, Group Operations).
    """

    metric_kinds = {"GET": metrics.READ, "PATCH": metrics.UPDATE, "DELETE": metrics.DELETE}

    def get(self, request, scim_id: str):
        group = group_selectors.scim_group_get(acting=self.acting, scim_id=scim_id)
        members = group_selectors.scim_group_member_ids(groups=[group])[group.pk] if self.wants_members() else None
        self.audit = Audit(ScimRequest.Action.READ)
        return Response(self.group_body(group, members))

    def patch(self, request, scim_id: str):
        self.group_written(group_actions.scim_group_patch(acting=self.acting, scim_id=scim_id, body=request.data))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def delete(self, request, scim_id: str):
        self.group_written(group_actions.scim_group_delete(acting=self.acting, scim_id=scim_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotFoundView(ScimView):
    """Any other path under the base URL: a SCIM 404 for every method."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def handle(self, request, *args, **kwargs):
        raise NotFoundError(f"No SCIM endpoint or resource at {request.path[:200]}.")

    get = post = put = patch = delete = options = handle


class SearchView(ScimView):
    """``POST /.search``: searching several resource types at once is not supported (501)."""

    def post(self, request):
        raise NotSupportedError("POST /.search is not supported; query /Users with a filter instead.")


class OpenAPIView(APIView):
    """``GET /openapi.json``: the OpenAPI description of this API, public like the RFCs it follows.

    It names no organisation, user or code; the operations it describes all need the code.
    """

    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ScimContentNegotiation
    throttle_classes: list = []
    metadata_class = None

    def get_exception_handler(self):
        return scim_exception_handler

    def get(self, request):
        return Response(openapi_document(request.build_absolute_uri(reverse("scim:base"))))
