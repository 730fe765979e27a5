"""The provisioning side of the admin: the Azure AD page, Entra ID's view of each person, its groups.

The organisations admin knows nothing of provisioning; these classes extend its organisation
and user admins and take their places on the site.
"""
from django.contrib import admin

from organisations.models import Organisation, User

from ..models import ScimGroup
from .groups import ScimGroupAdmin
from .organisations import ProvisioningOrganisationAdmin
from .users import ProvisioningUserAdmin

for model, model_admin in ((Organisation, ProvisioningOrganisationAdmin), (User, ProvisioningUserAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
admin.site.register(ScimGroup, ScimGroupAdmin)
