"""URL routes of the Prompt site."""
from django.contrib import admin
from django.urls import include, path

from scim_provisioning.api import token as oauth_token

from . import observability

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/authentication/scim", include("scim_provisioning.api.urls")),
    path("api/authentication/oauth2/token", oauth_token.token, name="oauth-token"),
    path("healthz", observability.healthz, name="healthz"),
    path("readyz", observability.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    # The home page and sign-in with Microsoft.
    path("", include("organisations.urls")),
]
