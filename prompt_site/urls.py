"""URL routes of the Prompt site."""
from django.contrib import admin
from django.urls import include, path

from . import observability

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/authentication/scim", include("scim_provisioning.api.urls")),
    path("healthz", observability.healthz, name="healthz"),
    path("readyz", observability.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    # The home page and sign-in with Microsoft.
    path("", include("organisations.urls")),
]
