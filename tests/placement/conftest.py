"""The SCIM API's fixtures: placement is driven through the same real HTTP requests."""
from tests.scim_api.conftest import create_user, other_client, other_organisation  # noqa: F401
