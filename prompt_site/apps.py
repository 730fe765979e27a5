"""Application configuration owned by the site itself."""
from django.contrib.admin.apps import AdminConfig


class PromptAdminConfig(AdminConfig):
    """Django's admin, with the role-aware site as ``admin.site``."""

    # Outside organisations.admin: importing that package registers models on this very site.
    default_site = "prompt_site.admin_site.PromptAdminSite"
