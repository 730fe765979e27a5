from django.apps import AppConfig


class ScimProvisioningConfig(AppConfig):
    name = "scim_provisioning"
    verbose_name = "SCIM provisioning"

    def ready(self) -> None:
        # Connects the cached bearer codes' safety-net signal receivers.
        from . import code_cache  # noqa: F401
