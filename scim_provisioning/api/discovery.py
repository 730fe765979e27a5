"""Discovery documents (RFC 7644 §4, RFC 7643 §5–§7): what this server really supports.

PATCH and filters yes; bulk, changePassword, sorting and ETags no; Users and Groups (the
groups placement rules use); one authentication scheme, the organisation's Provisioning
Authentication Code as an OAuth bearer token.
"""
from __future__ import annotations

from collections.abc import Callable

from ..protocol.constants import (
    ENTERPRISE_USER_URN,
    GROUP_URN,
    RESOURCE_TYPE_URN,
    SCHEMA_URN,
    SERVICE_PROVIDER_CONFIG_URN,
    USER_URN,
)
from ..protocol.schema import (
    BOOLEAN,
    COMPLEX,
    ENTERPRISE_USER,
    GROUP,
    INTEGER,
    READ_ONLY,
    REFERENCE,
    STRING,
    USER,
    Attribute,
    Schema,
    schema_document,
)

# The most resources one list response holds (ServiceProviderConfig filter.maxResults).
MAX_RESULTS = 100


def _read_only(name: str, type_: str, description: str, **characteristics) -> Attribute:
    return Attribute(name, type_, mutability=READ_ONLY, description=description, **characteristics)


def _supported(name: str, description: str, *extra: Attribute) -> Attribute:
    return _read_only(
        name,
        COMPLEX,
        description,
        required=True,
        sub_attributes=(
            _read_only("supported", BOOLEAN, "Whether the feature is supported.", required=True),
            *extra,
        ),
    )


# RFC 7643 §8.7.2: the schemas describing the discovery resources themselves.
SERVICE_PROVIDER_CONFIG_SCHEMA = Schema(
    urn=SERVICE_PROVIDER_CONFIG_URN,
    name="ServiceProviderConfig",
    description="Schema for representing the service provider's configuration.",
    attributes=(
        _read_only("documentationUri", REFERENCE, "An HTTP-addressable URL pointing to help documentation.",
                   reference_types=("external",)),
        _supported("patch", "A complex type that specifies PATCH configuration options."),
        _supported(
            "bulk",
            "A complex type that specifies bulk configuration options.",
            _read_only("maxOperations", INTEGER, "The maximum number of operations.", required=True),
            _read_only("maxPayloadSize", INTEGER, "The maximum payload size in bytes.", required=True),
        ),
        _supported(
            "filter",
            "A complex type that specifies FILTER options.",
            _read_only("maxResults", INTEGER, "The maximum number of resources returned in a response.",
                       required=True),
        ),
        _supported("changePassword", "A complex type that specifies configuration options related to changing a password."),
        _supported("sort", "A complex type that specifies sort result options."),
        _supported("etag", "A complex type that specifies ETag configuration options."),
        _read_only(
            "authenticationSchemes",
            COMPLEX,
            "A complex type that specifies supported authentication scheme properties.",
            multi_valued=True,
            required=True,
            sub_attributes=(
                _read_only("type", STRING, "The authentication scheme.", required=True,
                           canonical_values=("oauth", "oauth2", "oauthbearertoken", "httpbasic", "httpdigest")),
                _read_only("name", STRING, "The common authentication scheme name.", required=True),
                _read_only("description", STRING, "A description of the authentication scheme.", required=True),
                _read_only("specUri", REFERENCE, "The URL of the scheme's specification.",
                           reference_types=("external",)),
                _read_only("documentationUri", REFERENCE, "The URL of the scheme's usage documentation.",
                           reference_types=("external",)),
                _read_only("primary", BOOLEAN, "Whether this is the preferred authentication scheme."),
            ),
        ),
    ),
)

RESOURCE_TYPE_SCHEMA = Schema(
    urn=RESOURCE_TYPE_URN,
    name="ResourceType",
    description="Specifies the schema that describes a SCIM resource type.",
    attributes=(
        _read_only("name", STRING, "The resource type name.", required=True),
        _read_only("description", STRING, "The resource type's human-readable description."),
        _read_only("endpoint", REFERENCE, "The resource type's HTTP-addressable endpoint relative to the Base URL.",
                   required=True, reference_types=("uri",)),
        _read_only("schema", REFERENCE, "The resource type's primary schema URI.", required=True, case_exact=True,
                   reference_types=("uri",)),
        _read_only(
            "schemaExtensions",
            COMPLEX,
            "A list of URIs of the resource type's schema extensions.",
            multi_valued=True,
            sub_attributes=(
                _read_only("schema", REFERENCE, "The URI of a schema extension.", required=True, case_exact=True,
                           reference_types=("uri",)),
                _read_only("required", BOOLEAN, "Whether resources must include this schema extension.",
                           required=True),
            ),
        ),
    ),
)

_ATTRIBUTE_CHARACTERISTICS = (
    _read_only("name", STRING, "The attribute's name.", required=True, case_exact=True),
    _read_only("type", STRING, "The attribute's data type.", required=True,
               canonical_values=("string", "complex", "boolean", "decimal", "integer", "dateTime", "reference",
                                 "binary")),
    _read_only("multiValued", BOOLEAN, "Whether the attribute is multi-valued.", required=True),
    _read_only("description", STRING, "A human-readable description of the attribute."),
    _read_only("required", BOOLEAN, "Whether the attribute is required."),
    _read_only("canonicalValues", STRING, "A collection of suggested canonical values.", multi_valued=True),
    _read_only("caseExact", BOOLEAN, "Whether string values are case sensitive."),
    _read_only("mutability", STRING, "Whether and when the attribute may be modified.",
               canonical_values=("readOnly", "readWrite", "immutable", "writeOnly")),
    _read_only("returned", STRING, "When the attribute is returned in a response.",
               canonical_values=("always", "never", "default", "request")),
    _read_only("uniqueness", STRING, "How the service provider enforces uniqueness.",
               canonical_values=("none", "server", "global")),
    _read_only("referenceTypes", STRING, "The resource types a reference may refer to.", multi_valued=True),
)

SCHEMA_SCHEMA = Schema(
    urn=SCHEMA_URN,
    name="Schema",
    description="Specifies the schema attributes of a resource.",
    attributes=(
        _read_only("name", STRING, "The schema's human-readable name."),
        _read_only("description", STRING, "The schema's human-readable description."),
        _read_only(
            "attributes",
            COMPLEX,
            "The schema's attributes.",
            multi_valued=True,
            required=True,
            sub_attributes=(
                *_ATTRIBUTE_CHARACTERISTICS,
                _read_only("subAttributes", COMPLEX, "The sub-attributes of a complex attribute.",
                           multi_valued=True, sub_attributes=_ATTRIBUTE_CHARACTERISTICS),
            ),
        ),
    ),
)

SCHEMAS: tuple[Schema, ...] = (
    USER,
    ENTERPRISE_USER,
    GROUP,
    SERVICE_PROVIDER_CONFIG_SCHEMA,
    RESOURCE_TYPE_SCHEMA,
    SCHEMA_SCHEMA,
)

Locate = Callable[[str], str]


def schema_documents(locate: Locate) -> list[dict]:
    """Return every schema this server publishes; ``locate("/Schemas/…")`` makes absolute URLs."""
    return [schema_document(schema, locate(f"/Schemas/{schema.urn}")) for schema in SCHEMAS]


def schema_document_for(urn: str, locate: Locate) -> dict | None:
    """Return the schema document with the given URN (case-insensitive), if published."""
    folded = urn.casefold()
    return next((doc for doc in schema_documents(locate) if doc["id"].casefold() == folded), None)


def user_resource_type(locate: Locate) -> dict:
    """Return the User resource type, with the enterprise extension."""
    return {
        "schemas": [RESOURCE_TYPE_URN],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "People of the organisation, provisioned from Microsoft Entra ID.",
        "schema": USER_URN,
        "schemaExtensions": [{"schema": ENTERPRISE_USER_URN, "required": False}],
        "meta": {"resourceType": "ResourceType", "location": locate("/ResourceTypes/User")},
    }


def group_resource_type(locate: Locate) -> dict:
    """Return the Group resource type: Entra ID's groups, which placement rules can use."""
    return {
        "schemas": [RESOURCE_TYPE_URN],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Groups of the organisation's people, provisioned from Microsoft Entra ID.",
        "schema": GROUP_URN,
        "meta": {"resourceType": "ResourceType", "location": locate("/ResourceTypes/Group")},
    }


def resource_types(locate: Locate) -> list[dict]:
    """Return every resource type served, by name order."""
    return [group_resource_type(locate), user_resource_type(locate)]


def service_provider_config(locate: Locate) -> dict:
    """Return the ServiceProviderConfig (RFC 7643 §5)."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
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
        "meta": {"resourceType": "ServiceProviderConfig", "location": locate("/ServiceProviderConfig")},
    }
