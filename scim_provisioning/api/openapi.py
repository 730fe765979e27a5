"""An OpenAPI 3.1 description of the SCIM API (RFC 7644 §3), for tools and API fuzzers.

The User, Enterprise User and Group shapes are generated from the protocol schema (``protocol.schema``),
so the description follows the attributes the server actually knows. It stays deliberately open
(additional properties allowed) where SCIM is: unknown attributes are ignored, not refused.
"""
from __future__ import annotations

from ..protocol.constants import (
    ENTERPRISE_USER_URN,
    ERROR_URN,
    GROUP_URN,
    LIST_RESPONSE_URN,
    PATCH_OP_URN,
    SCIM_MEDIA_TYPE,
    USER_URN,
)
from ..protocol.schema import (
    BINARY,
    BOOLEAN,
    COMPLEX,
    DATE_TIME,
    DECIMAL,
    ENTERPRISE_USER,
    GROUP,
    INTEGER,
    READ_ONLY,
    REFERENCE,
    STRING,
    USER,
    WRITE_ONLY,
    Attribute,
    Schema,
)
from ..protocol.groups import MAX_MEMBERS
from .discovery import MAX_RESULTS

# Request bodies may be declared either way (Entra sends application/scim+json).
_REQUEST_MEDIA_TYPES = (SCIM_MEDIA_TYPE, "application/json")
_SCALARS = {
    STRING: {"type": "string"},
    REFERENCE: {"type": "string"},
    BINARY: {"type": "string"},
    DATE_TIME: {"type": "string", "format": "date-time"},
    BOOLEAN: {"type": "boolean"},
    INTEGER: {"type": "integer"},
    DECIMAL: {"type": "number"},
}


def _attribute_schema(attribute: Attribute) -> dict:
    if attribute.type == COMPLEX:
        value: dict = {
            "type": "object",
            "properties": {sub.name: _attribute_schema(sub) for sub in attribute.sub_attributes},
        }
    else:
        value = dict(_SCALARS[attribute.type])
    if attribute.canonical_values and attribute.type == STRING:
        value["examples"] = list(attribute.canonical_values)
    if attribute.multi_valued:
        value = {"type": "array", "items": value}
    if attribute.description:
        value["description"] = attribute.description
    if attribute.mutability == READ_ONLY:
        value["readOnly"] = True
    elif attribute.mutability == WRITE_ONLY:
        value["writeOnly"] = True
    return value


def _properties(schema: Schema) -> dict:
    return {attribute.name: _attribute_schema(attribute) for attribute in schema.attributes}


def _user_schema() -> dict:
    properties = {
        "schemas": {"type": "array", "items": {"type": "string"}, "examples": [[USER_URN, ENTERPRISE_USER_URN]]},
        **_properties(USER),
        ENTERPRISE_USER_URN: {
            "type": "object",
            "description": ENTERPRISE_USER.description,
            "properties": _properties(ENTERPRISE_USER),
        },
    }
    # Entra sends the manager as a bare id on writes; responses always use the object form.
    manager = properties[ENTERPRISE_USER_URN]["properties"]["manager"]
    properties[ENTERPRISE_USER_URN]["properties"]["manager"] = {
        "description": manager.get("description", ""),
        "oneOf": [{"type": "string"}, {k: v for k, v in manager.items() if k != "description"}],
    }
    return {"type": "object", "properties": properties}


def _group_schema() -> dict:
    return {
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}, "examples": [[GROUP_URN]]},
            "id": {"type": "string", "readOnly": True, "description": "The server's stable id of the group."},
            **_properties(GROUP),
            "meta": {"type": "object", "readOnly": True},
        },
    }


def _error_schema() -> dict:
    return {
        "type": "object",
        "required": ["schemas", "status"],
        "properties": {
            "schemas": {"type": "array", "items": {"const": ERROR_URN}},
            "status": {"type": "string", "pattern": "^[1-5][0-9][0-9]$"},
            "scimType": {"type": "string"},
            "detail": {"type": "string"},
        },
    }


def _list_schema(item: dict) -> dict:
    return {
        "type": "object",
        "required": ["schemas", "totalResults", "Resources", "startIndex", "itemsPerPage"],
        "properties": {
            "schemas": {"type": "array", "items": {"const": LIST_RESPONSE_URN}},
            "totalResults": {"type": "integer", "minimum": 0},
            "Resources": {"type": "array", "items": item},
            "startIndex": {"type": "integer", "minimum": 1},
            "itemsPerPage": {"type": "integer", "minimum": 0},
        },
    }


def _patch_schema() -> dict:
    return {
        "type": "object",
        "required": ["Operations"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}, "examples": [[PATCH_OP_URN]]},
            "Operations": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["op"],
                    "properties": {
                        # Entra capitalises ("Replace"); the server accepts any case.
                        "op": {"type": "string", "examples": ["add", "replace", "remove", "Replace"]},
                        "path": {"type": "string", "examples": ["active", 'emails[type eq "work"].value']},
                        "value": {},
                    },
                },
            },
        },
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _scim(schema: dict) -> dict:
    return {"content": {SCIM_MEDIA_TYPE: {"schema": schema}}}


def _ok(description: str, schema: dict) -> dict:
    return {"description": description, **_scim(schema)}


def _new_user() -> dict:
    # Required on writes only: a response projected with ``attributes=`` may leave userName out.
    return {"allOf": [_ref("User"), {"required": ["userName"]}]}


# What Entra ID sends (see the README's Entra notes): used as examples by tools and fuzzers.
_ENTRA_USER = {
    "schemas": [USER_URN, ENTERPRISE_USER_URN],
    "externalId": "alice",
    "userName": "alice@contoso.com",
    "active": True,
    "displayName": "Alice Smith",
    "emails": [{"primary": True, "type": "work", "value": "alice@contoso.com"}],
    "name": {"formatted": "Alice Smith", "familyName": "Smith", "givenName": "Alice"},
    ENTERPRISE_USER_URN: {"employeeNumber": "1001", "department": "Finance"},
}
_ENTRA_GROUP = {
    "schemas": [GROUP_URN],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "Nurses-Ward5",
    "meta": {"resourceType": "Group"},
}
_ENTRA_GROUP_PATCH = {
    "schemas": [PATCH_OP_URN],
    "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "<id of a User>"}]}],
}
_ENTRA_PATCH = {
    "schemas": [PATCH_OP_URN],
    "Operations": [
        {"op": "Replace", "path": "displayName", "value": "Alice Jones"},
        {"op": "Replace", "path": "active", "value": "False"},
    ],
}


def _body(schema: dict, example: dict) -> dict:
    content = {"schema": schema, "examples": {"entra": {"value": example}}}
    return {"required": True, "content": {media_type: content for media_type in _REQUEST_MEDIA_TYPES}}


def _responses(**successes: dict) -> dict:
    # Every failure is an RFC 7644 §3.12 error body; "default" covers each status the server uses.
    return {**successes, "default": _ok("A SCIM error (400, 401, 404, 409, 413, 429, 503 …).", _ref("Error"))}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "The User's id."}
_PROJECTION = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": description}
    for name, description in (
        ("attributes", "Comma-separated attribute names to return (RFC 7644 §3.9)."),
        ("excludedAttributes", "Comma-separated attribute names to leave out (RFC 7644 §3.9)."),
    )
]


def openapi_document(base_url: str) -> dict:
    """Return the OpenAPI 3.1 document for the SCIM API served at ``base_url``."""
    user_responses = _responses(**{"200": _ok("The User.", _ref("User"))})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Prompt SCIM 2.0 API",
            "version": "2.0",
            "description": (
                "SCIM 2.0 (RFC 7643, RFC 7644) Users and Groups endpoint that Microsoft Entra ID provisions into. "
                "Authenticate with the organisation's Provisioning Authentication Code as a bearer token. "
                "Groups (displayName, externalId, members) are provisioned too; placement rules use them."
            ),
        },
        "servers": [{"url": base_url}],
        "security": [{"provisioningCode": []}],
        "paths": {
            "/Users": {
                "get": {
                    "operationId": "listUsers",
                    "summary": "Query Users (Entra's lookups use a filter such as userName eq \"…\")",
                    "parameters": [
                        {
                            "name": "filter",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                            "examples": {"lookup": {"value": 'userName eq "alice@contoso.com"'}},
                        },
                        {"name": "startIndex", "in": "query", "required": False, "schema": {"type": "integer"}},
                        {
                            "name": "count",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer"},
                            "description": f"At most {MAX_RESULTS} Users are returned per page.",
                        },
                        *_PROJECTION,
                    ],
                    "responses": _responses(**{"200": _ok("A page of Users.", _list_schema(_ref("User")))}),
                },
                "post": {
                    "operationId": "createUser",
                    "summary": "Create a User",
                    "parameters": _PROJECTION,
                    "requestBody": _body(_new_user(), _ENTRA_USER),
                    "responses": _responses(**{"201": _ok("The created User.", _ref("User"))}),
                },
            },
            "/Users/{id}": {
                "parameters": [_ID],
                "get": {
                    "operationId": "getUser",
                    "summary": "Read a User",
                    "parameters": _PROJECTION,
                    "responses": user_responses,
                },
                "put": {
                    "operationId": "replaceUser",
                    "summary": "Replace a User",
                    "parameters": _PROJECTION,
                    "requestBody": _body(_new_user(), _ENTRA_USER),
                    "responses": user_responses,
                },
                "patch": {
                    "operationId": "patchUser",
                    "summary": "Update a User with PATCH operations (atomic)",
                    "parameters": _PROJECTION,
                    "requestBody": _body(_ref("PatchOp"), _ENTRA_PATCH),
                    "responses": user_responses,
                },
                "delete": {
                    "operationId": "deleteUser",
                    "summary": "Delete a User (the person's Prompt account is deactivated, not erased)",
                    "responses": _responses(**{"204": {"description": "Deleted."}}),
                },
            },
            "/ServiceProviderConfig": {
                "get": {
                    "operationId": "getServiceProviderConfig",
                    "responses": _responses(**{"200": _ok("What the server supports.", {"type": "object"})}),
                }
            },
            "/ResourceTypes": {
                "get": {
                    "operationId": "listResourceTypes",
                    "responses": _responses(**{"200": _ok("The User resource type.", _list_schema({"type": "object"}))}),
                }
            },
            "/ResourceTypes/{name}": {
                "get": {
                    "operationId": "getResourceType",
                    "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": _responses(**{"200": _ok("A resource type.", {"type": "object"})}),
                }
            },
            "/Schemas": {
                "get": {
                    "operationId": "listSchemas",
                    "responses": _responses(**{"200": _ok("The User schemas.", _list_schema({"type": "object"}))}),
                }
            },
            "/Schemas/{urn}": {
                "get": {
                    "operationId": "getSchema",
                    "parameters": [{"name": "urn", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": _responses(**{"200": _ok("A schema.", {"type": "object"})}),
                }
            },
            "/Groups": {
                "get": {
                    "operationId": "listGroups",
                    "summary": "Query Groups (Entra looks them up with displayName eq \"…\" and excludedAttributes=members)",
                    "parameters": [
                        {
                            "name": "filter",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                            "examples": {"lookup": {"value": 'displayName eq "Nurses-Ward5"'}},
                        },
                        {"name": "startIndex", "in": "query", "required": False, "schema": {"type": "integer"}},
                        {"name": "count", "in": "query", "required": False, "schema": {"type": "integer"}},
                        *_PROJECTION,
                    ],
                    "responses": _responses(**{"200": _ok("A page of Groups.", _list_schema(_ref("Group")))}),
                },
                "post": {
                    "operationId": "createGroup",
                    "summary": "Create a Group, with its members",
                    "requestBody": _body({"allOf": [_ref("Group"), {"required": ["displayName"]}]}, _ENTRA_GROUP),
                    "responses": _responses(**{"201": _ok("The created Group.", _ref("Group"))}),
                },
            },
            "/Groups/{id}": {
                "parameters": [{**_ID, "description": "The Group's id."}],
                "get": {
                    "operationId": "getGroup",
                    "summary": "Read a Group",
                    "parameters": _PROJECTION,
                    "responses": _responses(**{"200": _ok("The Group.", _ref("Group"))}),
                },
                "patch": {
                    "operationId": "patchGroup",
                    "summary": f"Change a Group's name, external id or members (atomic; at most {MAX_MEMBERS} members)",
                    "requestBody": _body(_ref("PatchOp"), _ENTRA_GROUP_PATCH),
                    "responses": _responses(**{"204": {"description": "Changed."}}),
                },
                "delete": {
                    "operationId": "deleteGroup",
                    "summary": "Delete a Group (its members stay)",
                    "responses": _responses(**{"204": {"description": "Deleted."}}),
                },
            },
        },
        "components": {
            "securitySchemes": {
                "provisioningCode": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "The organisation's Provisioning Authentication Code (from its Azure AD page), or an "
                        "access token from /api/authentication/oauth2/token (OAuth 2.0 client credentials)."
                    ),
                }
            },
            "schemas": {
                "User": _user_schema(),
                "Group": _group_schema(),
                "PatchOp": _patch_schema(),
                "Error": _error_schema(),
            },
        },
    }
