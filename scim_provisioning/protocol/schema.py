"""The User (RFC 7643 §4.1) and Group (§4.2) schemas and the Enterprise User extension (§4.3), as data.

Attribute characteristics follow RFC 7643 §2.2 and the machine-readable
definitions in §8.7.1 and §8.7.2. ``schema_document`` renders a schema in the
§7 representation served by ``GET /Schemas``.

Besides the User attributes proper, ``USER`` declares the common attributes
``id``, ``externalId`` and ``meta`` (§3.1) so that filters, PATCH paths and
``attributes=`` projections can resolve them like any other attribute.
"""
from __future__ import annotations

from dataclasses import dataclass

from .constants import ENTERPRISE_USER_URN, GROUP_URN, SCHEMA_URN, USER_URN

# Attribute data types (RFC 7643 §2.3).
STRING = "string"
BOOLEAN = "boolean"
DECIMAL = "decimal"
INTEGER = "integer"
DATE_TIME = "dateTime"
BINARY = "binary"
REFERENCE = "reference"
COMPLEX = "complex"

# Mutability, returned and uniqueness values (RFC 7643 §7).
READ_ONLY = "readOnly"
READ_WRITE = "readWrite"
IMMUTABLE = "immutable"
WRITE_ONLY = "writeOnly"
ALWAYS = "always"
NEVER = "never"
DEFAULT = "default"
REQUEST = "request"
NONE = "none"
SERVER = "server"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute or sub-attribute definition (RFC 7643 §7 "attributes")."""

    name: str
    type: str
    multi_valued: bool = False
    case_exact: bool = False
    mutability: str = READ_WRITE
    returned: str = DEFAULT
    uniqueness: str = NONE
    required: bool = False
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    description: str = ""

    def sub_attribute(self, name: str) -> Attribute | None:
        """Return the sub-attribute called ``name`` (case-insensitive), if any."""
        folded = name.casefold()
        for sub in self.sub_attributes:
            if sub.name.casefold() == folded:
                return sub
        return None


@dataclass(frozen=True, slots=True)
class Schema:
    """A resource schema or schema extension (RFC 7643 §7)."""

    urn: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        """Return the top-level attribute called ``name`` (case-insensitive), if any."""
        folded = name.casefold()
        for attribute in self.attributes:
            if attribute.name.casefold() == folded:
                return attribute
        return None


@dataclass(frozen=True, slots=True)
class AttributeRef:
    """An attribute resolved against a schema, with the sub-attribute when one was named."""

    schema: Schema
    attribute: Attribute
    sub_attribute: Attribute | None = None

    @property
    def target(self) -> Attribute:
        """Return the innermost definition the path names."""
        return self.sub_attribute or self.attribute


def _string(name: str, description: str, **characteristics) -> Attribute:
    return Attribute(name, STRING, description=description, **characteristics)


def _multi_valued(name: str, description: str, sub_attributes: tuple[Attribute, ...]) -> Attribute:
    return Attribute(name, COMPLEX, multi_valued=True, sub_attributes=sub_attributes, description=description)


def _plural_subs(
    what: str,
    *,
    canonical_types: tuple[str, ...] = (),
    value: Attribute | None = None,
) -> tuple[Attribute, ...]:
    """Build the value/display/type/primary quartet that most multi-valued attributes share."""
    return (
        value or _string("value", f"The {what} itself."),
        _string("display", f"A human-readable name for the {what}; read-only in practice."),
        _string("type", f"A label for the {what}'s function, such as 'work'.", canonical_values=canonical_types),
        Attribute("primary", BOOLEAN, description=f"Whether this is the preferred {what}; true at most once."),
    )


USER = Schema(
    urn=USER_URN,
    name="User",
    description="A person who can sign in.",
    attributes=(
        _string(
            "id",
            "The server's stable, opaque identifier for the resource.",
            case_exact=True,
            mutability=READ_ONLY,
            returned=ALWAYS,
            uniqueness=SERVER,
        ),
        _string("externalId", "The identifier the provisioning client uses for the resource.", case_exact=True),
        Attribute(
            "meta",
            COMPLEX,
            mutability=READ_ONLY,
            description="Server-maintained metadata about the resource.",
            sub_attributes=(
                _string("resourceType", "The name of the resource type.", case_exact=True, mutability=READ_ONLY),
                Attribute("created", DATE_TIME, mutability=READ_ONLY, description="When the resource was added."),
                Attribute(
                    "lastModified", DATE_TIME, mutability=READ_ONLY, description="When the resource last changed."
                ),
                Attribute(
                    "location",
                    REFERENCE,
                    case_exact=True,
                    mutability=READ_ONLY,
                    reference_types=("uri",),
                    description="The URI of the resource.",
                ),
                _string("version", "The entity tag of the resource.", case_exact=True, mutability=READ_ONLY),
            ),
        ),
        _string(
            "userName",
            "The unique name the user signs in with; compared case-insensitively.",
            required=True,
            uniqueness=SERVER,
        ),
        Attribute(
            "name",
            COMPLEX,
            description="The parts of the user's name.",
            sub_attributes=(
                _string("formatted", "The full name, formatted for display."),
                _string("familyName", "The family name (last name in most Western languages)."),
                _string("givenName", "The given name (first name in most Western languages)."),
                _string("middleName", "The middle name(s)."),
                _string("honorificPrefix", "A title or salutation placed before the name, such as 'Ms.'."),
                _string("honorificSuffix", "A suffix placed after the name, such as 'III'."),
            ),
        ),
        _string("displayName", "The name to show for the user."),
        _string("nickName", "The casual name the user goes by."),
        Attribute(
            "profileUrl",
            REFERENCE,
            reference_types=("external",),
            description="A URL of the user's online profile.",
        ),
        _string("title", "The user's job title."),
        _string("userType", "The relationship between the organisation and the user, such as 'Employee'."),
        _string("preferredLanguage", "The user's preferred written or spoken language (RFC 7231 language tag)."),
        _string("locale", "The user's locale for formatting dates, numbers and currency."),
        _string("timezone", "The user's time zone in IANA database format, such as 'Europe/London'."),
        Attribute("active", BOOLEAN, description="Whether the user may use the service."),
        _string(
            "password",
            "A cleartext password to set; never returned, and not stored by this server.",
            mutability=WRITE_ONLY,
            returned=NEVER,
        ),
        _multi_valued(
            "emails",
            "Email addresses for the user.",
            _plural_subs("email address", canonical_types=("work", "home", "other")),
        ),
        _multi_valued(
            "phoneNumbers",
            "Telephone numbers for the user.",
            _plural_subs("phone number", canonical_types=("work", "home", "mobile", "fax", "pager", "other")),
        ),
        _multi_valued(
            "ims",
            "Instant messaging addresses for the user.",
            _plural_subs(
                "instant messaging address",
                canonical_types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
            ),
        ),
        _multi_valued(
            "photos",
            "URLs of images of the user.",
            _plural_subs(
                "photo",
                canonical_types=("photo", "thumbnail"),
                value=Attribute(
                    "value", REFERENCE, reference_types=("external",), description="The URL of the image."
                ),
            ),
        ),
        _multi_valued(
            "addresses",
            "Physical mailing addresses for the user.",
            (
                _string("formatted", "The full address, formatted for display or mailing labels."),
                _string("streetAddress", "The street address, possibly several lines."),
                _string("locality", "The city or locality."),
                _string("region", "The state or region."),
                _string("postalCode", "The postal code."),
                _string("country", "The country; stored as sent."),
                _string("type", "A label for the address, such as 'work'.", canonical_values=("work", "home", "other")),
                Attribute("primary", BOOLEAN, description="Whether this is the preferred address; true at most once."),
            ),
        ),
        Attribute(
            "groups",
            COMPLEX,
            multi_valued=True,
            mutability=READ_ONLY,
            description="Groups the user belongs to; maintained through the Group resource.",
            sub_attributes=(
                _string("value", "The id of the group.", mutability=READ_ONLY),
                Attribute(
                    "$ref",
                    REFERENCE,
                    mutability=READ_ONLY,
                    reference_types=("User", "Group"),
                    description="The URI of the group.",
                ),
                _string("display", "The group's display name.", mutability=READ_ONLY),
                _string(
                    "type",
                    "Whether membership is direct or inherited.",
                    mutability=READ_ONLY,
                    canonical_values=("direct", "indirect"),
                ),
            ),
        ),
        _multi_valued("entitlements", "Entitlements the user has.", _plural_subs("entitlement")),
        _multi_valued("roles", "Roles the user has.", _plural_subs("role")),
        _multi_valued(
            "x509Certificates",
            "X.509 certificates issued to the user.",
            _plural_subs(
                "certificate",
                value=Attribute("value", BINARY, description="The DER-encoded certificate, base64 encoded."),
            ),
        ),
    ),
)

ENTERPRISE_USER = Schema(
    urn=ENTERPRISE_USER_URN,
    name="EnterpriseUser",
    description="Attributes of a user who works for an organisation.",
    attributes=(
        _string("employeeNumber", "The organisation's identifier for the employee."),
        _string("costCenter", "The name of a cost center."),
        _string("organization", "The name of an organisation."),
        _string("division", "The name of a division."),
        _string("department", "The name of a department."),
        Attribute(
            "manager",
            COMPLEX,
            description="The user's manager.",
            sub_attributes=(
                _string("value", "The id of the manager's User resource."),
                Attribute(
                    "$ref", REFERENCE, reference_types=("User",), description="The URI of the manager's User resource."
                ),
                _string("displayName", "The manager's display name.", mutability=READ_ONLY),
            ),
        ),
    ),
)

GROUP = Schema(
    urn=GROUP_URN,
    name="Group",
    description="A group of users provisioned from Microsoft Entra ID, which placement rules can use.",
    attributes=(
        _string(
            "displayName",
            "The group's name; unique within the organisation, compared case-insensitively.",
            required=True,
            uniqueness=SERVER,
        ),
        _string("externalId", "The identifier the provisioning client uses for the group.", case_exact=True),
        Attribute(
            "members",
            COMPLEX,
            multi_valued=True,
            description="The users in the group.",
            sub_attributes=(
                _string("value", "The id of a User of this organisation.", case_exact=True, mutability=IMMUTABLE),
                Attribute(
                    "$ref",
                    REFERENCE,
                    mutability=IMMUTABLE,
                    reference_types=("User",),
                    description="The URI of the member's User resource.",
                ),
                _string("type", "The member's resource type.", mutability=IMMUTABLE, canonical_values=("User",)),
            ),
        ),
    ),
)

# The schemas a User resource may carry; the core schema comes first.
USER_SCHEMAS: tuple[Schema, ...] = (USER, ENTERPRISE_USER)
EXTENSIONS: tuple[Schema, ...] = (ENTERPRISE_USER,)


def schema_for_urn(urn: str) -> Schema | None:
    """Return the known schema whose URN equals ``urn`` (case-insensitive)."""
    folded = urn.casefold()
    for schema in USER_SCHEMAS:
        if schema.urn.casefold() == folded:
            return schema
    return None


def extension_for_urn(urn: str) -> Schema | None:
    """Return the known extension schema whose URN equals ``urn`` (case-insensitive)."""
    schema = schema_for_urn(urn)
    return schema if schema in EXTENSIONS else None


def split_path(path: str) -> tuple[str | None, str, str | None]:
    """Split ``[urn:]attribute[.subAttribute]`` into its parts without validating names."""
    # Attribute names never contain a colon, so the URN is everything before
    # the last one; URNs themselves contain dots ("2.0"), names do not.
    schema: str | None = None
    rest = path
    if ":" in path:
        schema, _, rest = path.rpartition(":")
    attribute, dot, sub_attribute = rest.partition(".")
    return schema, attribute, (sub_attribute if dot else None)


def resolve_attribute(schema_urn: str | None, attribute: str, sub_attribute: str | None = None) -> AttributeRef | None:
    """Resolve an attribute (and optional sub-attribute) to its definition, or None if unknown."""
    # Without a URN the core schema is searched first, then the extensions:
    # Entra writes the enterprise manager as plain "manager" in filters and
    # PATCH paths, and no extension attribute shares a name with a core one.
    if schema_urn is None:
        candidates = USER_SCHEMAS
    else:
        schema = schema_for_urn(schema_urn)
        candidates = (schema,) if schema else ()
    for schema in candidates:
        definition = schema.attribute(attribute)
        if definition is None:
            continue
        if sub_attribute is None:
            return AttributeRef(schema, definition)
        sub = definition.sub_attribute(sub_attribute)
        return AttributeRef(schema, definition, sub) if sub else None
    return None


def resolve_path(path: str) -> AttributeRef | None:
    """Resolve a textual path such as ``name.givenName`` or ``urn:…:User:manager.value``."""
    return resolve_attribute(*split_path(path))


def find_attribute(path: str) -> Attribute | None:
    """Return the definition a path names (sub-attribute if given), or None if unknown."""
    ref = resolve_path(path)
    return ref.target if ref else None


def _attribute_document(attribute: Attribute) -> dict:
    document: dict = {
        "name": attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "description": attribute.description,
        "required": attribute.required,
    }
    if attribute.type in (STRING, REFERENCE, BINARY):
        document["caseExact"] = attribute.case_exact
    if attribute.canonical_values:
        document["canonicalValues"] = list(attribute.canonical_values)
    if attribute.reference_types:
        document["referenceTypes"] = list(attribute.reference_types)
    document["mutability"] = attribute.mutability
    document["returned"] = attribute.returned
    document["uniqueness"] = attribute.uniqueness
    if attribute.sub_attributes:
        document["subAttributes"] = [_attribute_document(sub) for sub in attribute.sub_attributes]
    return document


def schema_document(schema: Schema, location: str) -> dict:
    """Return the RFC 7643 §7 representation of ``schema`` served at ``location``."""
    # id and meta belong to every resource rather than to a schema, so they
    # are left out; externalId stays because Entra maps it. Entra needs
    # camelCase keys and no nulls, which the builders above guarantee.
    return {
        "schemas": [SCHEMA_URN],
        "id": schema.urn,
        "name": schema.name,
        "description": schema.description,
        "attributes": [
            _attribute_document(attribute) for attribute in schema.attributes if attribute.name not in ("id", "meta")
        ],
        "meta": {"resourceType": "Schema", "location": location},
    }
