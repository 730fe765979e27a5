from django.apps import AppConfig


class ScimProvisioningConfig(AppConfig):
    name = "scim_provisioning"
    verbose_name = "SCIM provisioning"
