"""SCIM 2.0 routes under /api/authentication/scim (no trailing slashes: Entra appends /Users).

Every pattern accepts one or more leading slashes, so a Tenant URL pasted with a trailing
slash (…/scim/ + /Users) still works without a redirect, which would break POST and PATCH.
Anything else below the base URL is a SCIM 404, never Django's HTML page. The slash is
written ``[/]`` because the include has no trailing slash, which Django's URL check would
otherwise flag.
"""
from django.urls import path, re_path

from . import views

app_name = "scim"

urlpatterns = [
    path("", views.NotFoundView.as_view(), name="base"),
    re_path(r"^[/]+Users/?$", views.UsersView.as_view(), name="users"),
    re_path(r"^[/]+Users/(?P<scim_id>[^/]+)/?$", views.UserView.as_view(), name="user"),
    re_path(r"^[/]+ServiceProviderConfig$", views.ServiceProviderConfigView.as_view(), name="service-provider-config"),
    re_path(r"^[/]+ResourceTypes$", views.ResourceTypesView.as_view(), name="resource-types"),
    re_path(r"^[/]+ResourceTypes/(?P<name>[^/]+)$", views.ResourceTypeView.as_view(), name="resource-type"),
    re_path(r"^[/]+Schemas$", views.SchemasView.as_view(), name="schemas"),
    re_path(r"^[/]+Schemas/(?P<urn>[^/]+)$", views.SchemaView.as_view(), name="schema"),
    re_path(r"^[/]+Groups/?$", views.GroupsView.as_view(), name="groups"),
    re_path(r"^[/]+Groups/(?P<scim_id>[^/]+)/?$", views.GroupView.as_view(), name="group"),
    re_path(r"^[/]+\.search$", views.SearchView.as_view(), name="search"),
    re_path(r"^[/]+openapi\.json$", views.OpenAPIView.as_view(), name="openapi"),
    re_path(r"^[/].*$", views.NotFoundView.as_view(), name="not-found"),
]
