"""SCIM 2.0 routes under /api/authentication/scim (no trailing slashes: Entra appends /Users)."""
urlpatterns: list = []
