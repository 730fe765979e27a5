"""User resource bodies: POST/PUT input (RFC 7644 §3.3, §3.5.1) and projection (§3.9).

``normalise_user`` turns whatever a client sent into the canonical resource
dict the rest of the server works with:

* core attributes at the top level under their RFC spelling ("userName");
* enterprise attributes in a nested object under ``ENTERPRISE_USER_URN``;
* the manager as ``{"value": "<id>"}`` and nothing else;
* no ``schemas``, ``id``, ``meta``, ``groups`` or ``password`` keys;
* values exactly as sent, apart from booleans parsed leniently.

The value coercion functions here are shared with ``patch``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .errors import InvalidSyntaxError, InvalidValueError
from .filters import get_case_insensitive
from .schema import (
    ALWAYS,
    BINARY,
    BOOLEAN,
    COMPLEX,
    DATE_TIME,
    DECIMAL,
    ENTERPRISE_USER,
    INTEGER,
    READ_ONLY,
    REFERENCE,
    STRING,
    USER,
    WRITE_ONLY,
    Attribute,
    AttributeRef,
    USER_SCHEMAS,
    Schema,
    extension_for_urn,
    resolve_attribute,
    schema_for_urn,
    split_path,
)

MANAGER = ENTERPRISE_USER.attribute("manager")
# The most values one multi-valued attribute may hold. Entra sends one to three emails, phone
# numbers and addresses; far more would not describe a person, only make every request slower.
MAX_ELEMENTS = 100

# Entra sends "True"/"False" from its default active mapping (an expression
# that yields a string), and lowercase strings have been observed too.
_BOOLEAN_STRINGS = {"true": True, "True": True, "false": False, "False": False}
_TEXT_TYPES = (STRING, REFERENCE, BINARY, DATE_TIME)


@dataclass(frozen=True, slots=True)
class Normalised:
    """A canonical resource dict, plus the attribute names that were dropped as unknown."""

    resource: dict
    ignored: tuple[str, ...]


def is_clear(value: object) -> bool:
    """Whether a value means "no value": null or the empty string (RFC 7643 §2.5)."""
    return value is None or value == ""


def is_settable(attribute: Attribute) -> bool:
    """Whether a client may write the attribute; read-only and write-only ones are dropped."""
    return attribute.mutability not in (READ_ONLY, WRITE_ONLY)


def coerce_boolean(value: object, *, attribute: str) -> bool:
    """Parse a boolean leniently: JSON true/false or the strings "true", "True", "false", "False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _BOOLEAN_STRINGS:
        return _BOOLEAN_STRINGS[value]
    raise InvalidValueError(f"{attribute} must be a boolean (true or false), not {_show(value)}.")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_text(value: str, path: str) -> str:
    # PostgreSQL cannot store NUL and UTF-8 cannot encode lone surrogates;
    # reject them here so they become a 400, not a database error.
    if "\x00" in value:
        raise InvalidValueError(f"{path} contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValueError(f"{path} is not valid Unicode text.") from None
    return value


def coerce_scalar(attribute: Attribute, value: object, *, path: str) -> object | None:
    """Check a single non-complex value against its definition; None means "absent"."""
    if is_clear(value):
        return None
    if attribute.type == BOOLEAN:
        return coerce_boolean(value, attribute=path)
    if attribute.type in _TEXT_TYPES:
        if not isinstance(value, str):
            raise InvalidValueError(f"{path} must be a string, not {_show(value)}.")
        return _check_text(value, path)
    if attribute.type == INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValueError(f"{path} must be an integer, not {_show(value)}.")
        return value
    if attribute.type == DECIMAL:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidValueError(f"{path} must be a number, not {_show(value)}.")
        return value
    raise InvalidValueError(f"{path} must be a simple value, not {_show(value)}.")


def _canonical_items(value: dict, path: str) -> list[tuple[str, object]]:
    """List a JSON object's items, refusing keys that differ only in case."""
    seen: set[str] = set()
    for key in value:
        folded = str(key).casefold()
        if folded in seen:
            raise InvalidSyntaxError(f"{path}: the attribute {key!r} is given more than once.")
        seen.add(folded)
    return [(str(key), item) for key, item in value.items()]


def coerce_element(attribute: Attribute, value: object, *, path: str, ignored: list[str]) -> dict | None:
    """Check one complex value (a single-valued complex attribute or one element)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidValueError(f"{path} must be an object, not {_show(value)}.")
    element: dict = {}
    for key, item in _canonical_items(value, path):
        sub = attribute.sub_attribute(key)
        if sub is None:
            ignored.append(f"{path}.{key}")
            continue
        if not is_settable(sub):
            continue
        coerced = coerce_scalar(sub, item, path=f"{path}.{sub.name}")
        if coerced is not None:
            element[sub.name] = coerced
    return element or None


def coerce_manager(value: object, *, path: str) -> dict | None:
    """Reduce every manager form to ``{"value": id}``; None means "no manager"."""
    # Entra sends the manager's id as a bare string, older Microsoft examples
    # send [{"value": id, "$ref": url}], RFC clients send {"value": id}. Entra
    # can only read the object form back, so only that is stored.
    if isinstance(value, list):
        if len(value) > 1:
            raise InvalidValueError(f"{path} takes a single manager, not {len(value)}.")
        value = value[0] if value else None
    if is_clear(value):
        return None
    if isinstance(value, str):
        return {"value": _check_text(value, path)}
    if isinstance(value, dict):
        _canonical_items(value, path)
        if not any(str(key).casefold() == "value" for key in value):
            raise InvalidValueError(f"{path} needs a 'value' holding the manager's id.")
        raw_identifier = get_case_insensitive(value, "value")
        identifier = coerce_scalar(MANAGER.sub_attribute("value"), raw_identifier, path=f"{path}.value")
        return None if identifier is None else {"value": identifier}
    raise InvalidValueError(f"{path} must be the manager's id or an object with a 'value', not {_show(value)}.")


def coerce_attribute(attribute: Attribute, value: object, *, path: str, ignored: list[str]) -> object | None:
    """Check a whole attribute value against its definition; None means "absent"."""
    if attribute is MANAGER:
        return coerce_manager(value, path=path)
    if attribute.multi_valued:
        if is_clear(value):
            return None
        items = value if isinstance(value, list) else [value]
        if len(items) > MAX_ELEMENTS:
            # RFC 7644 has no scimType for a value that is too large; invalidValue is the closest.
            raise InvalidValueError(f"{path} may hold at most {MAX_ELEMENTS} values; this one has {len(items)}.")
        elements = []
        for index, item in enumerate(items):
            if attribute.type == COMPLEX:
                element = coerce_element(attribute, item, path=f"{path}[{index}]", ignored=ignored)
            else:
                element = coerce_scalar(attribute, item, path=f"{path}[{index}]")
            if element is not None:
                elements.append(element)
        return elements or None
    if attribute.type == COMPLEX:
        return coerce_element(attribute, value, path=path, ignored=ignored)
    return coerce_scalar(attribute, value, path=path)


def container_for(resource: dict, schema: Schema, *, create: bool) -> dict | None:
    """Return the object holding ``schema``'s attributes: the resource, or the extension's object."""
    if schema is USER:
        return resource
    key = canonical_key(resource, schema.urn)
    container = resource.get(key)
    if not isinstance(container, dict):
        if not create:
            return None
        container = resource[key] = {}
    return container


def canonical_key(container: dict, name: str) -> str:
    """Rename a key that differs from ``name`` only in case to ``name``, and return ``name``."""
    if name not in container:
        folded = name.casefold()
        for key in list(container):
            if isinstance(key, str) and key.casefold() == folded:
                container[name] = container.pop(key)
                break
    return name


# --- normalise_user ----------------------------------------------------------------------

def normalise_user(body: object) -> Normalised:
    """Validate a POST or PUT body and return the canonical resource it describes."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("The request body must be a JSON object.")
    resource: dict = {}
    ignored: list[str] = []
    for key, value in _canonical_items(body, "body"):
        extension = extension_for_urn(key)
        if extension is not None:
            _absorb_extension(resource, extension, value, ignored)
        elif key.casefold() != "schemas":
            _absorb(resource, key, split_path(key), value, ignored)
    _require_user_name(resource)
    return Normalised(resource, tuple(ignored))


def _absorb_extension(resource: dict, extension: Schema, value: object, ignored: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidValueError(f"{extension.urn} must be an object, not {_show(value)}.")
    for key, item in _canonical_items(value, extension.urn):
        _, attribute, sub_attribute = split_path(key)
        _absorb(resource, f"{extension.urn}:{key}", (extension.urn, attribute, sub_attribute), item, ignored)


def _absorb(
    resource: dict, key: str, parts: tuple[str | None, str, str | None], value: object, ignored: list[str]
) -> None:
    ref = resolve_attribute(*parts)
    if ref is None or (ref.sub_attribute is not None and ref.attribute.multi_valued):
        # Dotted keys are a PATCH convenience; for multi-valued attributes they
        # would not say which element to set, so they are unknown here.
        ignored.append(key)
        return
    if not is_settable(ref.attribute) or not is_settable(ref.target):
        return
    if ref.sub_attribute is None:
        coerced = coerce_attribute(ref.attribute, value, path=ref.attribute.name, ignored=ignored)
        _store(resource, ref, ref.attribute.name, coerced, key)
    else:
        coerced = coerce_scalar(ref.sub_attribute, value, path=f"{ref.attribute.name}.{ref.sub_attribute.name}")
        _store_sub(resource, ref, coerced, key)


def _store(resource: dict, ref: AttributeRef, name: str, value: object | None, key: str) -> None:
    if value is None:
        return
    container = container_for(resource, ref.schema, create=True)
    existing = container.get(name)
    if isinstance(existing, dict) and isinstance(value, dict) and not existing.keys() & value.keys():
        existing.update(value)  # "name.givenName" came first, then "name": {"familyName": …}
    elif name in container:
        raise InvalidSyntaxError(f"The attribute {key!r} is given more than once.")
    else:
        container[name] = value


def _store_sub(resource: dict, ref: AttributeRef, value: object | None, key: str) -> None:
    if value is None:
        return
    if ref.attribute is MANAGER:
        if ref.sub_attribute.name == "value":
            _store(resource, ref, MANAGER.name, {"value": value}, key)
        return  # only the id is stored; "$ref" is derived from it on output
    container = container_for(resource, ref.schema, create=True)
    parent = container.setdefault(ref.attribute.name, {})
    if ref.sub_attribute.name in parent:
        raise InvalidSyntaxError(f"The attribute {key!r} is given more than once.")
    parent[ref.sub_attribute.name] = value


def _require_user_name(resource: dict) -> None:
    user_name = resource.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise InvalidValueError("userName is required and must not be blank.")


# --- project -----------------------------------------------------------------------------

def project(resource: dict, *, attributes: list[str] | None = None, excluded: list[str] | None = None) -> dict:
    """Apply ``attributes`` / ``excludedAttributes`` (RFC 7644 §3.9) to an output representation."""
    # Names are case-insensitive, dotted or URN-qualified; a bare schema URN
    # names all of that schema's attributes. schemas and "always" attributes
    # (id) survive either list; unknown names are ignored, as RFC clients
    # expect. The representation is expected in canonical spelling.
    result = copy.deepcopy(resource)
    if attributes:
        result = _keep_only(result, _selections(attributes))
    if excluded:
        _exclude(result, _selections(excluded))
    return result


# A selection is (schema, attribute name, sub-attribute name or None); an
# attribute name of None selects every attribute of the schema.
_Selection = tuple[Schema, str | None, str | None]


def _selections(names: list[str]) -> list[_Selection]:
    selections: list[_Selection] = []
    for raw in names:
        name = raw.strip()
        schema = schema_for_urn(name)
        if schema is not None:
            selections.append((schema, None, None))
            continue
        ref = resolve_attribute(*split_path(name))
        if ref is not None:
            selections.append((ref.schema, ref.attribute.name, ref.sub_attribute.name if ref.sub_attribute else None))
    return selections


def _always_returned(schema: Schema) -> set[str]:
    return {attribute.name for attribute in schema.attributes if attribute.returned == ALWAYS}


def _keep_only(resource: dict, selections: list[_Selection]) -> dict:
    # Per schema: None keeps everything, else attribute name -> sub-attribute
    # names to keep (None for the whole attribute).
    plans: dict[str, dict[str, set[str] | None] | None] = {}
    for schema, name, sub in selections:
        if schema.urn in plans and plans[schema.urn] is None:
            continue
        if name is None:
            plans[schema.urn] = None
            continue
        plan = plans.setdefault(schema.urn, {})
        if sub is None or (name in plan and plan[name] is None):
            plan[name] = None
        else:
            plan.setdefault(name, set()).add(sub)
    kept: dict = {key: resource[key] for key in ("schemas", *sorted(_always_returned(USER))) if key in resource}
    for schema in USER_SCHEMAS:
        if schema.urn not in plans:
            continue
        source = container_for(resource, schema, create=False)
        if source is None:
            continue
        plan = plans[schema.urn]
        if plan is None:
            selected = dict(source)
        else:
            selected = {name: _pick(source[name], subs) for name, subs in plan.items() if name in source}
        selected = {name: value for name, value in selected.items() if value not in ({}, [])}
        if schema is USER:
            kept.update(selected)
        elif selected:
            kept[schema.urn] = selected
    return kept


def _pick(value: object, subs: set[str] | None) -> object:
    if subs is None:
        return value
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key in subs}
    if isinstance(value, list):
        picked = [{k: v for k, v in e.items() if k in subs} for e in value if isinstance(e, dict)]
        return [element for element in picked if element]
    return value


def _exclude(resource: dict, selections: list[_Selection]) -> None:
    always = _always_returned(USER)
    for schema, name, sub in selections:
        if name is None:
            if schema is not USER:
                resource.pop(schema.urn, None)
            continue
        container = container_for(resource, schema, create=False)
        if container is None or name not in container or (schema is USER and name in always):
            continue
        if sub is None:
            del container[name]
        else:
            _drop_sub(container, name, sub)
        if schema is not USER and not container:
            resource.pop(schema.urn, None)


def _drop_sub(container: dict, name: str, sub: str) -> None:
    value = container[name]
    if isinstance(value, dict):
        value.pop(sub, None)
        if not value:
            del container[name]
    elif isinstance(value, list):
        remaining = []
        for element in value:
            if isinstance(element, dict):
                element.pop(sub, None)
            if element != {}:
                remaining.append(element)
        if remaining:
            container[name] = remaining
        else:
            del container[name]
