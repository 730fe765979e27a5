"""URL routes of the Prompt site."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/authentication/scim", include("scim_provisioning.api.urls")),
    # The home page and sign-in with Microsoft.
    path("", include("organisations.urls")),
]
