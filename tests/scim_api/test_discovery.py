"""Discovery documents tell the truth about what the endpoint supports."""
from __future__ import annotations

from .conftest import BASE, ENTERPRISE, LIST, USER_URN, error, list_of

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"

LOCATION = f"http://testserver{BASE}"


def test_service_provider_config(scim_client):
    response = scim_client.get(f"{BASE}/ServiceProviderConfig")

    assert response.status_code == 200
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 100},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The organisation's Provisioning Authentication Code, sent as "
                "'Authorization: Bearer <code>'.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            },
            {
                "type": "oauth2",
                "name": "OAuth 2.0 client credentials",
                "description": "An access token from /api/authentication/oauth2/token, granted for a client "
                "secret or a federated assertion of the organisation's tenant, sent as 'Authorization: Bearer <token>'.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6749#section-4.4",
                "primary": False,
            },
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{LOCATION}/ServiceProviderConfig"},
    }


USER_RESOURCE_TYPE = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    "id": "User",
    "name": "User",
    "endpoint": "/Users",
    "description": "People of the organisation, provisioned from Microsoft Entra ID.",
    "schema": USER_URN,
    "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
    "meta": {"resourceType": "ResourceType", "location": f"{LOCATION}/ResourceTypes/User"},
}


GROUP_RESOURCE_TYPE = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    "id": "Group",
    "name": "Group",
    "endpoint": "/Groups",
    "description": "Groups of the organisation's people, provisioned from Microsoft Entra ID.",
    "schema": GROUP_URN,
    "meta": {"resourceType": "ResourceType", "location": f"{LOCATION}/ResourceTypes/Group"},
}


def test_resource_types_list_groups_and_users(scim_client):
    assert scim_client.get(f"{BASE}/ResourceTypes").json() == list_of(GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE)
    assert scim_client.get(f"{BASE}/ResourceTypes/User").json() == USER_RESOURCE_TYPE
    assert scim_client.get(f"{BASE}/ResourceTypes/Group").json() == GROUP_RESOURCE_TYPE
    assert scim_client.get(f"{BASE}/ResourceTypes/Device").json() == error(404, "Resource type 'Device' not found.")


def test_schemas(scim_client):
    response = scim_client.get(f"{BASE}/Schemas")

    body = response.json()
    assert body["schemas"] == [LIST]
    assert (body["totalResults"], body["itemsPerPage"], body["startIndex"]) == (6, 6, 1)
    assert [(s["id"], s["name"]) for s in body["Resources"]] == [
        (USER_URN, "User"),
        (ENTERPRISE, "EnterpriseUser"),
        (GROUP_URN, "Group"),
        ("urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig", "ServiceProviderConfig"),
        ("urn:ietf:params:scim:schemas:core:2.0:ResourceType", "ResourceType"),
        ("urn:ietf:params:scim:schemas:core:2.0:Schema", "Schema"),
    ]
    user = body["Resources"][0]
    assert user["meta"] == {"resourceType": "Schema", "location": f"{LOCATION}/Schemas/{USER_URN}"}
    user_name = next(a for a in user["attributes"] if a["name"] == "userName")
    assert user_name == {
        "name": "userName",
        "type": "string",
        "multiValued": False,
        "description": "The unique name the user signs in with; compared case-insensitively.",
        "required": True,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "server",
    }
    # Entra requires no nulls anywhere in /Schemas.
    assert "null" not in response.content.decode()
    enterprise = scim_client.get(f"{BASE}/Schemas/{ENTERPRISE}").json()
    assert enterprise == body["Resources"][1]
    assert [a["name"] for a in enterprise["attributes"]] == [
        "employeeNumber", "costCenter", "organization", "division", "department", "manager",
    ]
    assert scim_client.get(f"{BASE}/Schemas/urn:nope").json() == error(404, "Schema 'urn:nope' not found.")


def test_group_schema_is_what_the_gallery_checks_read(scim_client):
    # Microsoft's gallery suite fails every group test unless /Schemas has the Group schema.
    group = scim_client.get(f"{BASE}/Schemas/{GROUP_URN}").json()

    assert group["id"] == GROUP_URN
    assert [a["name"] for a in group["attributes"]] == ["displayName", "externalId", "members"]
    display_name = group["attributes"][0]
    assert (display_name["required"], display_name["caseExact"], display_name["uniqueness"]) == (True, False, "server")
    members = group["attributes"][2]
    assert [(sub["name"], sub["mutability"]) for sub in members["subAttributes"]] == [
        ("value", "immutable"), ("$ref", "immutable"), ("type", "immutable"),
    ]


def test_groups_probe_answers_an_empty_list(scim_client):
    response = scim_client.get(f'{BASE}/Groups?filter=displayName+eq+%22{"0f0e"}%22&excludedAttributes=members')

    assert response.status_code == 200
    assert response.json() == list_of()
    missing = scim_client.get(f"{BASE}/Groups/5b2b8c5e-6f0e-4e0c-9d5a-0c6b8a6f1e2d")
    assert missing.status_code == 404
    assert missing.json() == error(404, "Group '5b2b8c5e-6f0e-4e0c-9d5a-0c6b8a6f1e2d' not found.")
