"""The one table of where each SCIM User attribute lives in the database.

A ``ScimUser`` keeps the resource exactly as Entra sent it in ``attributes``; the table names
the attributes that also have a column: some columns are the source of truth (``userName`` is
the Prompt user's ``username``, ``active`` its ``is_active``, the manager a foreign key, ``id``
and ``meta`` the row's own), the others are copies made on every write, so that filters run in
the database and the Prompt user's own fields follow Entra. The same table serves output
(``user_resource``), writes (``derived_values``) and filters (``users.filters``).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Expression, F, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from organisations.usernames import name_key

from ..protocol.constants import ENTERPRISE_USER_URN, USER_URN
from ..protocol.filters import matches, parse_path
from ..protocol.resource import container_for
from ..protocol.schema import USER, Attribute, resolve_attribute

# Kinds of column, which decide the operators a filter may use on them.
TEXT = "text"  # a string column or JSON string; every comparison operator
BOOLEAN = "boolean"  # eq / ne / pr
DATE_TIME = "dateTime"  # eq / ne / gt / ge / lt / le / pr
IDENTIFIER = "identifier"  # a UUID key: eq / ne / pr

# Who holds the truth for the attribute.
MODEL = "model"  # the column; the attribute is not kept in ``attributes``
RESOURCE = "resource"  # ``attributes``; the columns in ``copies`` follow it on every write


# PostgreSQL refuses a B-tree index entry over 2704 bytes; a 1024-character value can need 4096
# in UTF-8, so indexed copies are bounded in bytes as well, well below that limit.
INDEXED_MAX_BYTES = 2048


@dataclass(frozen=True)
class Copy:
    """A model field (``"user.first_name"``, ``"scim.email"``) set from an attribute on every write.

    Values longer than the field are cut for Prompt's own fields and refused for the indexed
    SCIM columns, where a cut copy would make filters lie.
    """

    target: str
    max_length: int
    may_cut: bool = False
    # Computes the value from the whole resource instead of the attribute alone.
    source: Callable[[dict], str] | None = None


@dataclass(frozen=True)
class MappedAttribute:
    """One SCIM attribute with a place in the database."""

    path: str
    kind: str
    truth: str
    # The ORM path (from ScimUser) filters compare, or a factory for a JSON key expression.
    field: str | Callable[[], Expression]
    copies: tuple[Copy, ...] = ()
    # For a column holding a comparison key, the function that makes the key of a filter value;
    # the column is then compared as it is, for every operator.
    key: Callable[[str], str] | None = None

    @property
    def definition(self) -> Attribute:
        """Return the schema definition (RFC 7643) the path names, for ``caseExact``."""
        parsed = parse_path(self.path)
        return resolve_attribute(parsed.attribute.schema, parsed.attribute.attribute, parsed.sub_attribute).target

    @property
    def case_exact(self) -> bool:
        return self.definition.case_exact

    def expression(self) -> Expression:
        """Return the database expression a filter compares (never NULL for text)."""
        if callable(self.field):
            return Coalesce(self.field(), Value(""), output_field=TextField())
        return F(self.field)

    def value_in(self, resource: dict) -> object | None:
        """Return this attribute's value in a canonical resource dict, or None."""
        return resource_value(resource, self.path)


def _json_text(*keys: str) -> Callable[[], Expression]:
    def build() -> Expression:
        expression: Expression | str = "attributes"
        for key in keys:
            expression = KeyTextTransform(key, expression)
        return expression

    return build


def _core(*keys: str) -> MappedAttribute:
    return MappedAttribute(".".join(keys), TEXT, RESOURCE, _json_text(*keys))


def _enterprise(key: str) -> MappedAttribute:
    return MappedAttribute(f"{ENTERPRISE_USER_URN}:{key}", TEXT, RESOURCE, _json_text(ENTERPRISE_USER_URN, key))


WORK_EMAIL = 'emails[type eq "work"].value'
MANAGER = f"{ENTERPRISE_USER_URN}:manager"

ATTRIBUTES: tuple[MappedAttribute, ...] = (
    MappedAttribute("id", IDENTIFIER, MODEL, "pk"),
    # Compared by the person's name key, as uniqueness and sign-in compare it (organisations.usernames).
    MappedAttribute("userName", TEXT, MODEL, "user__username_key", copies=(Copy("user.username", 256),), key=name_key),
    MappedAttribute("active", BOOLEAN, MODEL, "user__is_active"),
    MappedAttribute("externalId", TEXT, RESOURCE, "external_id", copies=(Copy("scim.external_id", 1024),)),
    MappedAttribute(
        WORK_EMAIL,
        TEXT,
        RESOURCE,
        "email",
        copies=(Copy("scim.email", 1024), Copy("user.email", 254, may_cut=True, source=lambda r: prompt_email(r))),
    ),
    MappedAttribute(
        "name.givenName", TEXT, RESOURCE, _json_text("name", "givenName"), copies=(Copy("user.first_name", 150, may_cut=True),)
    ),
    MappedAttribute(
        "name.familyName", TEXT, RESOURCE, _json_text("name", "familyName"), copies=(Copy("user.last_name", 150, may_cut=True),)
    ),
    _core("name", "formatted"),
    _core("displayName"),
    _core("nickName"),
    _core("title"),
    _core("userType"),
    _core("preferredLanguage"),
    _core("locale"),
    _core("timezone"),
    MappedAttribute(
        f"{ENTERPRISE_USER_URN}:employeeNumber",
        TEXT,
        RESOURCE,
        "employee_number",
        copies=(Copy("scim.employee_number", 1024),),
    ),
    _enterprise("department"),
    _enterprise("division"),
    _enterprise("organization"),
    _enterprise("costCenter"),
    MappedAttribute(MANAGER, IDENTIFIER, MODEL, "manager_id"),
    MappedAttribute("meta.created", DATE_TIME, MODEL, "created"),
    MappedAttribute("meta.lastModified", DATE_TIME, MODEL, "last_modified"),
)


def _key(path: str) -> tuple[str, str, str | None, str | None]:
    """Return (schema URN, attribute, sub-attribute, element type) naming a path canonically."""
    parsed = parse_path(path)
    ref = resolve_attribute(parsed.attribute.schema, parsed.attribute.attribute, parsed.sub_attribute)
    element_type = parsed.value_filter.value.casefold() if parsed.value_filter is not None else None
    return (ref.schema.urn, ref.attribute.name, ref.sub_attribute.name if ref.sub_attribute else None, element_type)


_BY_KEY = {_key(attribute.path): attribute for attribute in ATTRIBUTES}


def mapped_attribute(
    schema_urn: str, attribute: str, sub_attribute: str | None = None, element_type: str | None = None
) -> MappedAttribute | None:
    """Return the mapped attribute for canonical names (from ``resolve_attribute``), if any."""
    return _BY_KEY.get((schema_urn, attribute, sub_attribute, element_type.casefold() if element_type else None))


# --- reading a canonical resource ------------------------------------------------------------

def resource_value(resource: dict, path: str) -> object | None:
    """Return the value a path (such as ``emails[type eq "work"].value``) names in a resource."""
    parsed = parse_path(path)
    ref = resolve_attribute(parsed.attribute.schema, parsed.attribute.attribute, parsed.sub_attribute)
    container = container_for(resource, ref.schema, create=False) or {}
    value = container.get(ref.attribute.name)
    if parsed.value_filter is not None:
        elements = value if isinstance(value, list) else []
        value = next(
            (e for e in elements if isinstance(e, dict) and matches(parsed.value_filter, e, within=ref.attribute)),
            None,
        )
    if ref.sub_attribute is not None:
        value = value.get(ref.sub_attribute.name) if isinstance(value, dict) else None
    return value


def prompt_email(resource: dict) -> str:
    """Return the address for the Prompt user: the work email, else the primary, else the first."""
    emails = [e for e in resource.get("emails") or [] if isinstance(e, dict) and isinstance(e.get("value"), str)]
    work = resource_value(resource, WORK_EMAIL)
    if isinstance(work, str):
        return work
    primary = next((e["value"] for e in emails if e.get("primary") is True), None)
    return primary or (emails[0]["value"] if emails else "")


def derived_values(resource: dict) -> dict[str, str]:
    """Return ``{"user.first_name": …, "scim.email": …}``: the column copies of a resource.

    Raises ``ValueError`` naming the attribute when a value is too long for an indexed column.
    """
    values: dict[str, str] = {}
    for attribute in ATTRIBUTES:
        value = attribute.value_in(resource)
        for column in attribute.copies:
            text = column.source(resource) if column.source else (value if isinstance(value, str) else "")
            if len(text) > column.max_length:
                if not column.may_cut:
                    raise ValueError(f"{attribute.path} is longer than {column.max_length} characters.")
                text = text[: column.max_length]
            elif not column.may_cut and len(text) * 4 > INDEXED_MAX_BYTES:
                if len(text.encode("utf-8")) > INDEXED_MAX_BYTES:
                    raise ValueError(f"{attribute.path} is longer than {INDEXED_MAX_BYTES} bytes in UTF-8.")
            values[column.target] = text
    return values


def stored_attributes(resource: dict) -> dict:
    """Return what ``ScimUser.attributes`` keeps of a canonical resource: all but model-held values."""
    stored = copy.deepcopy(resource)
    for key in ("id", "userName", "meta", "schemas"):
        stored.pop(key, None)
    enterprise = stored.get(ENTERPRISE_USER_URN)
    if isinstance(enterprise, dict):
        enterprise.pop("manager", None)
        if not enterprise:
            del stored[ENTERPRISE_USER_URN]
    return stored


# --- writing the representation --------------------------------------------------------------

def canonical_resource(scim_user) -> dict:
    """Return the canonical resource dict (as ``normalise_user`` makes) a ScimUser stands for.

    ``active`` is present only if the client has assigned it (Entra always does); its value
    comes from the Prompt user, so a deactivation made in Prompt shows too.
    """
    resource: dict = {"id": str(scim_user.pk), "userName": scim_user.user.username}
    resource.update(copy.deepcopy(scim_user.attributes))
    if "active" in resource:
        resource["active"] = scim_user.user.is_active
    if scim_user.manager_id is not None:
        enterprise = resource.setdefault(ENTERPRISE_USER_URN, {})
        enterprise["manager"] = {"value": str(scim_user.manager_id)}
    return resource


_ORDER = [attribute.name for attribute in USER.attributes]


def user_resource(scim_user, *, location: Callable[[object], str]) -> dict:
    """Return the full SCIM representation of a ScimUser (RFC 7643 §4.1, §4.3).

    ``location(scim_id)`` returns the absolute URL of a User resource. The manager is always
    the RFC object ``{"value": id, "$ref": url}``; Entra cannot read a bare string back.
    """
    resource = canonical_resource(scim_user)
    body: dict = {"schemas": [USER_URN]}
    for name in _ORDER:
        if name in resource:
            body[name] = resource[name]
    enterprise = resource.get(ENTERPRISE_USER_URN)
    if enterprise:
        enterprise = dict(enterprise)
        if "manager" in enterprise:
            manager_id = enterprise["manager"]["value"]
            enterprise["manager"] = {"value": manager_id, "$ref": location(manager_id)}
        body["schemas"].append(ENTERPRISE_USER_URN)
        body[ENTERPRISE_USER_URN] = enterprise
    body["meta"] = {
        "resourceType": "User",
        "created": _timestamp(scim_user.created),
        "lastModified": _timestamp(scim_user.last_modified),
        "location": location(scim_user.pk),
    }
    return body


def _timestamp(moment) -> str:
    # Microseconds are kept so a filter on meta.lastModified can use the value read back.
    return moment.isoformat().replace("+00:00", "Z")


# --- change sets -----------------------------------------------------------------------------

def flatten(resource: dict) -> dict[str, object]:
    """Flatten a canonical resource to ``{"name.givenName": …, "emails": […], "department": …}``."""
    flat: dict[str, object] = {}
    for key, value in resource.items():
        if key in ("id", "meta", "schemas"):
            continue
        if key == ENTERPRISE_USER_URN and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                flat[sub_key] = sub_value["value"] if sub_key == "manager" else sub_value
        elif isinstance(value, dict):
            for sub_key, sub_value in value.items():
                flat[f"{key}.{sub_key}"] = sub_value
        else:
            flat[key] = value
    return flat


def changes_between(old: dict | None, new: dict) -> dict[str, list]:
    """Return ``{attribute: [old, new]}`` for every attribute that differs."""
    before = flatten(old) if old is not None else {}
    after = flatten(new)
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after), key=str.casefold)
        if before.get(key) != after.get(key)
    }


def prompt_fields_owned() -> tuple[str, ...]:
    """The Prompt user's own fields that Entra ID's attributes set (``username``, ``first_name``…)."""
    owned = [
        column.target.removeprefix("user.")
        for attribute in ATTRIBUTES
        for column in attribute.copies
        if column.target.startswith("user.")
    ]
    return tuple(dict.fromkeys(owned))
