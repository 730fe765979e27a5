"""PATCH requests (RFC 7644 §3.5.2), including the forms Microsoft Entra ID sends.

``normalise_patch`` validates a PatchOp body and reduces it to one
``PatchOperation`` per attribute path; ``apply_patch`` applies them to a
canonical resource dict (see ``resource``) and returns a new dict. Both are
pure. The operation list is atomic: it either applies completely or raises.

Departures from a literal reading of the RFC, each for Entra:

* ``op`` is case-insensitive (Entra sends "Add", "Replace", "Remove").
* add and replace behave the same on single-valued attributes (Entra picks
  one depending on whether its last read saw a value).
* A path-less value may use attribute paths as keys ("name.givenName",
  "urn:…:User:employeeNumber"), Entra's aadOptscim062020 form.
* add/replace on ``emails[type eq "work"].value`` creates the work element
  when none exists instead of failing with noTarget.
* Unknown attributes are skipped and reported in ``PatchResult.ignored``
  rather than failing the request, so that a bundled ``active: "False"`` is
  never lost with them.
* Removing something that is already absent is a no-op: Entra retries
  failed operations on later cycles.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .constants import PATCH_OP_URN
from .errors import InvalidPathError, InvalidSyntaxError, InvalidValueError, MutabilityError, NoTargetError, ScimError
from .filters import And, AttrPath, Comparison, Expr, PatchPath, get_case_insensitive, matches, parse_path
from .resource import (
    MANAGER,
    canonical_key,
    coerce_attribute,
    coerce_element,
    coerce_manager,
    coerce_scalar,
    container_for,
    is_clear,
    is_settable,
)
from .schema import COMPLEX, USER, Attribute, AttributeRef, extension_for_urn, resolve_attribute

ADD = "add"
REPLACE = "replace"
REMOVE = "remove"
_OPERATIONS = (ADD, REPLACE, REMOVE)

# Sub-attributes that label an element without carrying data: an element
# left with only these (say after its value was cleared) is dropped.
_LABELS = frozenset({"type", "primary"})


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One operation; ``path`` is None only for a path-less add/replace built by hand."""

    op: str
    path: PatchPath | None
    value: object = None


@dataclass(frozen=True, slots=True)
class PatchResult:
    """The patched resource and the paths that were skipped as unknown or server-managed."""

    resource: dict
    ignored: tuple[str, ...]


# --- normalise_patch ---------------------------------------------------------------------

def normalise_patch(body: object) -> tuple[PatchOperation, ...]:
    """Validate a PatchOp body and return its operations, one per attribute path."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("The PATCH body must be a JSON object.")
    _check_schemas(body)
    raw_operations = get_case_insensitive(body, "Operations")
    if not isinstance(raw_operations, list) or not raw_operations:
        raise InvalidSyntaxError("The PATCH body needs a non-empty 'Operations' list.")
    operations: list[PatchOperation] = []
    for index, raw in enumerate(raw_operations):
        operations.extend(_normalise_operation(raw, index))
    return tuple(operations)


def _check_schemas(body: dict) -> None:
    if not any(isinstance(key, str) and key.casefold() == "schemas" for key in body):
        return
    schemas = get_case_insensitive(body, "schemas")
    if not isinstance(schemas, list) or not any(
        isinstance(urn, str) and urn.casefold() == PATCH_OP_URN.casefold() for urn in schemas
    ):
        raise InvalidSyntaxError(f"'schemas' must contain {PATCH_OP_URN}.")


def _normalise_operation(raw: object, index: int) -> list[PatchOperation]:
    where = f"Operations[{index}]"
    if not isinstance(raw, dict):
        raise InvalidSyntaxError(f"{where} must be an object.")
    op = get_case_insensitive(raw, "op")
    if not isinstance(op, str) or op.lower() not in _OPERATIONS:
        raise InvalidSyntaxError(f"{where}.op must be 'add', 'replace' or 'remove'.")
    op = op.lower()
    raw_path = get_case_insensitive(raw, "path")
    if raw_path is not None and not isinstance(raw_path, str):
        raise InvalidPathError(f"{where}.path must be a string.")
    has_value = any(isinstance(key, str) and key.casefold() == "value" for key in raw)
    value = get_case_insensitive(raw, "value")
    if not raw_path:
        if op == REMOVE:
            raise NoTargetError(f"{where}: a remove operation needs a path (RFC 7644 §3.5.2.2).")
        return expand_pathless(op, value)
    path = parse_path(raw_path)
    if op != REMOVE and not has_value:
        raise InvalidValueError(f"{where}: an {op} operation needs a value.")
    if path.is_extension and op != REMOVE and isinstance(value, dict):
        return _expand_extension(op, path.attribute.schema or "", value)
    return [PatchOperation(op, path, value)]


def expand_pathless(op: str, value: object) -> list[PatchOperation]:
    """Split a path-less add/replace value into one operation per attribute path."""
    # Keys may be attribute names holding nested values (RFC 7644 §3.5.2.1) or,
    # from Entra with aadOptscim062020, dotted or URN-qualified paths and an
    # extension URN holding an object.
    if not isinstance(value, dict):
        raise InvalidValueError(f"A path-less {op} needs an object value.")
    operations: list[PatchOperation] = []
    for key, item in value.items():
        key = str(key)
        if key.casefold() == "schemas":
            continue  # a whole-resource value carries its schemas; nothing to apply
        if extension_for_urn(key) is not None and isinstance(item, dict):
            operations.extend(_expand_extension(op, key, item))
        else:
            operations.append(PatchOperation(op, parse_path(key), item))
    return operations


def _expand_extension(op: str, urn: str, value: dict) -> list[PatchOperation]:
    return [PatchOperation(op, parse_path(f"{urn}:{key}"), item) for key, item in value.items()]


# --- apply_patch -------------------------------------------------------------------------

def apply_patch(resource: dict, operations: tuple[PatchOperation, ...] | list[PatchOperation]) -> PatchResult:
    """Apply the operations to a copy of ``resource``; raise on the first failing one."""
    result = copy.deepcopy(resource)
    ignored: list[str] = []
    for operation in operations:
        if operation.path is None:
            if operation.op == REMOVE:
                raise NoTargetError("A remove operation needs a path (RFC 7644 §3.5.2.2).")
            expanded = expand_pathless(operation.op, operation.value)
        else:
            expanded = [operation]
        for single in expanded:
            _apply(result, single, ignored)
    return PatchResult(result, tuple(ignored))


@dataclass(slots=True)
class _Target:
    """Where one operation lands: the container dict and the resolved attribute."""

    container: dict
    ref: AttributeRef
    path: PatchPath

    @property
    def name(self) -> str:
        return self.ref.attribute.name

    @property
    def text(self) -> str:
        return str(self.path)


def _apply(resource: dict, operation: PatchOperation, ignored: list[str]) -> None:
    path = operation.path
    assert path is not None
    if path.is_extension:
        _apply_whole_extension(resource, operation, ignored)
        return
    ref = resolve_attribute(path.attribute.schema, path.attribute.attribute, path.sub_attribute)
    if ref is None:
        ignored.append(str(path))
        return
    if ref.schema is USER and ref.attribute.name == "id":
        _check_id(resource, operation)
        return
    if not is_settable(ref.attribute) or not is_settable(ref.target):
        ignored.append(str(path))  # meta, groups, password, manager.displayName…
        return
    if path.value_filter is not None and not ref.attribute.multi_valued and ref.attribute is not MANAGER:
        raise InvalidPathError(f"{path}: value filters apply only to multi-valued attributes.")
    container = container_for(resource, ref.schema, create=operation.op != REMOVE)
    if container is None:
        return  # removing from an extension the resource does not have
    target = _Target(container, ref, path)
    canonical_key(container, target.name)
    if ref.attribute is MANAGER:
        _apply_manager(target, operation, ignored)
    elif ref.attribute.multi_valued:
        _apply_multi_valued(target, operation, ignored)
    elif ref.attribute.type == COMPLEX:
        _apply_complex(target, operation, ignored)
    else:
        _apply_simple(target, operation)
    if ref.schema is not USER and not container:
        resource.pop(ref.schema.urn, None)


def _apply_whole_extension(resource: dict, operation: PatchOperation, ignored: list[str]) -> None:
    urn = operation.path.attribute.schema if operation.path else None
    extension = extension_for_urn(urn or "")
    if extension is None:
        ignored.append(urn or "")
        return
    if operation.op == REMOVE or is_clear(operation.value):
        resource.pop(canonical_key(resource, extension.urn), None)
        return
    if not isinstance(operation.value, dict):
        raise InvalidValueError(f"{extension.urn} must be an object.")
    for single in _expand_extension(operation.op, extension.urn, operation.value):
        _apply(resource, single, ignored)


def _check_id(resource: dict, operation: PatchOperation) -> None:
    # Clients that PATCH a whole representation echo the id back unchanged;
    # only an actual change is a mutability error.
    if operation.op != REMOVE and operation.value == get_case_insensitive(resource, "id"):
        return
    raise MutabilityError("id is assigned by the server and cannot be changed.")


# --- single-valued -----------------------------------------------------------------------

def _apply_simple(target: _Target, operation: PatchOperation) -> None:
    if operation.op == REMOVE:
        _forbid_clearing_required(target)
        target.container.pop(target.name, None)
        return
    value = coerce_scalar(target.ref.attribute, operation.value, path=target.text)
    if value is None or (target.ref.attribute.required and isinstance(value, str) and not value.strip()):
        _forbid_clearing_required(target)
        target.container.pop(target.name, None)
    else:
        target.container[target.name] = value


def _forbid_clearing_required(target: _Target) -> None:
    if target.ref.attribute.required:
        raise InvalidValueError(f"{target.name} is required and cannot be removed or blank.")


def _apply_complex(target: _Target, operation: PatchOperation, ignored: list[str]) -> None:
    """Apply to a single-valued complex attribute such as ``name``."""
    container, name, sub = target.container, target.name, target.ref.sub_attribute
    current = container.get(name) if isinstance(container.get(name), dict) else {}
    if sub is not None:
        value = None if operation.op == REMOVE else coerce_scalar(sub, operation.value, path=target.text)
        if value is None:
            current.pop(sub.name, None)
        else:
            current[sub.name] = value
    elif operation.op == REMOVE or is_clear(operation.value):
        current = {}
    else:
        # RFC 7644 §3.5.2.1 and §3.5.2.3: for a complex attribute both add and
        # replace set the given sub-attributes and leave the others unchanged;
        # an empty or null sub-attribute value clears that sub-attribute.
        if not isinstance(operation.value, dict):
            raise InvalidValueError(f"{target.text} must be an object.")
        for key, item in operation.value.items():
            definition = target.ref.attribute.sub_attribute(str(key))
            if definition is None or not is_settable(definition):
                ignored.append(f"{target.text}.{key}")
                continue
            value = coerce_scalar(definition, item, path=f"{target.text}.{definition.name}")
            if value is None:
                current.pop(definition.name, None)
            else:
                current[definition.name] = value
    if current:
        container[name] = current
    else:
        container.pop(name, None)


def _apply_manager(target: _Target, operation: PatchOperation, ignored: list[str]) -> None:
    """Apply to the enterprise manager, always stored as ``{"value": id}`` (see ``coerce_manager``)."""
    container, path = target.container, target.path
    current = container.get(MANAGER.name)
    sub = target.ref.sub_attribute
    if sub is not None and sub.name != "value":
        ignored.append(target.text)  # "$ref" is derived from the id on output
        return
    if path.value_filter is not None:
        selected = isinstance(current, dict) and matches(path.value_filter, current, within=MANAGER)
        if operation.op == REMOVE:
            if selected:
                container.pop(MANAGER.name, None)
            return
        if not selected:
            raise NoTargetError(f"{target.text} matched no manager.")
    if operation.op == REMOVE:
        if sub is None and not is_clear(operation.value):
            # Remove with a value removes that manager only: a retried remove
            # must not clear a manager that has since been replaced.
            removed = coerce_manager(operation.value, path=target.text)
            if removed is not None and isinstance(current, dict) and removed["value"] != current.get("value"):
                return
        container.pop(MANAGER.name, None)
        return
    if sub is not None:
        identifier = coerce_scalar(sub, operation.value, path=target.text)
        manager = None if identifier is None else {"value": identifier}
    else:
        manager = coerce_manager(operation.value, path=target.text)
    if manager is None:
        container.pop(MANAGER.name, None)
    else:
        container[MANAGER.name] = manager


# --- multi-valued ------------------------------------------------------------------------

def _apply_multi_valued(target: _Target, operation: PatchOperation, ignored: list[str]) -> None:
    container, name = target.container, target.name
    stored = container.get(name)
    elements: list = list(stored) if isinstance(stored, list) else ([stored] if isinstance(stored, dict) else [])
    if target.path.value_filter is not None:
        touched = _apply_filtered(target, elements, operation, ignored)
    elif target.ref.sub_attribute is not None:
        touched = _apply_to_every_element(target, elements, operation)
    else:
        touched = _apply_whole_list(target, elements, operation, ignored)
    _keep_one_primary(elements, touched)
    remaining = [element for element in elements if not _is_label_only(element)]
    if remaining:
        container[name] = remaining
    else:
        container.pop(name, None)


def _apply_whole_list(target: _Target, elements: list, operation: PatchOperation, ignored: list[str]) -> list[int]:
    attribute = target.ref.attribute
    if operation.op == REMOVE:
        if is_clear(operation.value):
            elements.clear()
        else:
            _remove_values(attribute, elements, operation.value, target.text, ignored)
        return []
    new = coerce_attribute(attribute, operation.value, path=target.text, ignored=ignored) or []
    if operation.op == REPLACE:
        elements[:] = new
        return []
    touched = []
    for element in new:
        if element not in elements:
            elements.append(element)
            touched.append(len(elements) - 1)
    return touched


def _remove_values(attribute: Attribute, elements: list, value: object, path: str, ignored: list[str]) -> None:
    """Remove the elements a remove operation lists in its value (as Entra does for members)."""
    wanted = []
    for index, item in enumerate(value if isinstance(value, list) else [value]):
        if isinstance(item, str):
            item = {"value": item}
        element = coerce_element(attribute, item, path=f"{path}[{index}]", ignored=ignored)
        if element:
            wanted.append(element)
    elements[:] = [
        element for element in elements if not any(_contains(attribute, element, probe) for probe in wanted)
    ]


def _contains(attribute: Attribute, element: object, probe: dict) -> bool:
    if not isinstance(element, dict):
        return False
    filter_ = None
    for key, value in probe.items():
        comparison = Comparison(AttrPath(None, key, None), "eq", value)
        filter_ = comparison if filter_ is None else And(filter_, comparison)
    return filter_ is not None and matches(filter_, element, within=attribute)


def _apply_to_every_element(target: _Target, elements: list, operation: PatchOperation) -> list[int]:
    """Apply ``emails.value``-style paths (no filter) to every element."""
    sub = target.ref.sub_attribute
    value = None if operation.op == REMOVE else coerce_scalar(sub, operation.value, path=target.text)
    if value is not None and not elements:
        raise NoTargetError(f"{target.text}: there is no element to set it on.")
    for element in elements:
        if isinstance(element, dict):
            _set_or_clear(element, sub.name, value)
    return list(range(len(elements))) if value is True else []


def _apply_filtered(target: _Target, elements: list, operation: PatchOperation, ignored: list[str]) -> list[int]:
    """Apply ``emails[type eq "work"]`` and ``emails[type eq "work"].value`` paths."""
    attribute, sub = target.ref.attribute, target.ref.sub_attribute
    value_filter = target.path.value_filter
    selected = [
        index
        for index, element in enumerate(elements)
        if isinstance(element, dict) and matches(value_filter, element, within=attribute)
    ]
    if operation.op == REMOVE:
        for index in reversed(selected):
            if sub is None:
                del elements[index]
            else:
                elements[index].pop(sub.name, None)
        return []
    if sub is not None:
        new_value = coerce_scalar(sub, operation.value, path=target.text)
        if not selected:
            if new_value is None:
                return []  # clearing a value that is not there
            elements.append(_element_from_filter(target, value_filter))
            selected = [len(elements) - 1]
        for index in selected:
            _set_or_clear(elements[index], sub.name, new_value)
        return selected
    replacement = _single_element(target, operation.value, ignored)
    if not selected:
        if replacement is None:
            return []
        elements.append({**_element_from_filter(target, value_filter), **replacement})
        return [len(elements) - 1]
    for index in selected:
        if replacement is None:
            elements[index] = {}
        elif operation.op == ADD:
            elements[index] = {**elements[index], **replacement}
        else:
            elements[index] = replacement
    return selected


def _single_element(target: _Target, value: object, ignored: list[str]) -> dict | None:
    if isinstance(value, list):
        if len(value) != 1:
            raise InvalidValueError(f"{target.text} takes one element, not {len(value)}.")
        value = value[0]
    return coerce_element(target.ref.attribute, value, path=target.text, ignored=ignored)


def _element_from_filter(target: _Target, value_filter: Expr) -> dict:
    """Build the element a conjunction of ``eq`` comparisons describes, e.g. ``{"type": "work"}``."""
    # Entra-only: Entra adds or replaces emails[type eq "work"].value when no
    # work email exists yet and expects it to be created, where the RFC would
    # answer noTarget. Any other filter still gets noTarget.
    element: dict = {}
    pending: list[Expr] = [value_filter]
    while pending:
        expr = pending.pop()
        if isinstance(expr, And):
            pending.extend((expr.right, expr.left))
            continue
        definition = (
            target.ref.attribute.sub_attribute(expr.path.attribute)
            if isinstance(expr, Comparison) and expr.op == "eq" and expr.path.sub_attribute is None
            else None
        )
        if definition is None or not is_settable(definition) or expr.value is None:
            raise NoTargetError(f"{target.text} matched no element, and the filter does not describe one to create.")
        try:
            value = coerce_scalar(definition, expr.value, path=f"{target.name}.{definition.name}")
        except ScimError:
            raise NoTargetError(f"{target.text}: the filter value for {definition.name} has the wrong type.") from None
        if element.get(definition.name, value) != value:
            raise NoTargetError(f"{target.text}: the filter contradicts itself.")
        element[definition.name] = value
    return element


def _set_or_clear(element: dict, key: str, value: object | None) -> None:
    if value is None:
        element.pop(key, None)
    else:
        element[key] = value


def _is_label_only(element: object) -> bool:
    return isinstance(element, dict) and set(element) <= _LABELS


def _keep_one_primary(elements: list, touched: list[int]) -> None:
    """RFC 7643 §2.4: "primary" is true at most once; the element just set wins."""
    if not any(isinstance(elements[i], dict) and elements[i].get("primary") is True for i in touched):
        return
    winner = next(i for i in touched if isinstance(elements[i], dict) and elements[i].get("primary") is True)
    for index, element in enumerate(elements):
        if index != winner and isinstance(element, dict) and element.get("primary") is True:
            element["primary"] = False
