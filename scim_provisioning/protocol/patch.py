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

A PATCH costs linear time in its size: at most ``MAX_OPERATIONS`` operations,
and multi-valued attributes are worked on through ``elements.Elements``, whose
indexes find Entra's filtered elements without walking the list.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .constants import PATCH_OP_URN
from .elements import Elements, WorkBudget
from .errors import (
    InvalidPathError,
    InvalidSyntaxError,
    InvalidValueError,
    MutabilityError,
    NoTargetError,
    ScimError,
)
from .filters import (
    And,
    AttrPath,
    Comparison,
    Expr,
    PatchPath,
    get_case_insensitive,
    matches,
    parse_path,
)
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
from .schema import (
    COMPLEX,
    USER,
    Attribute,
    AttributeRef,
    extension_for_urn,
    resolve_attribute,
)

ADD = "add"
REPLACE = "replace"
REMOVE = "remove"
_OPERATIONS = (ADD, REPLACE, REMOVE)

# Sub-attributes that label an element without carrying data: an element
# left with only these (say after its value was cleared) is dropped.
_LABELS = frozenset({"type", "primary"})
# Entra sends a few operations per user; a group's membership batches stay far below this.
MAX_OPERATIONS = 1000


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
    if len(raw_operations) > MAX_OPERATIONS:
        raise _too_many_operations(len(raw_operations))
    operations: list[PatchOperation] = []
    for index, raw in enumerate(raw_operations):
        operations.extend(_normalise_operation(raw, index))
        if len(operations) > MAX_OPERATIONS:
            raise _too_many_operations(len(operations))
    return tuple(operations)


def _too_many_operations(count: int) -> InvalidValueError:
    # RFC 7644 has no scimType for a request that is too large; invalidValue is the closest.
    return InvalidValueError(
        f"A PATCH may hold at most {MAX_OPERATIONS} operations (counting each attribute of a path-less "
        f"value as one); this one has {count}. Send the changes in several requests."
    )


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
    workspace = _Workspace(WorkBudget(_size(result, operations)))
    for operation in operations:
        if operation.path is None:
            if operation.op == REMOVE:
                raise NoTargetError("A remove operation needs a path (RFC 7644 §3.5.2.2).")
            expanded = expand_pathless(operation.op, operation.value)
        else:
            expanded = [operation]
        for single in expanded:
            _apply(result, single, ignored, workspace)
    workspace.write_back()
    return PatchResult(result, tuple(ignored))


def _size(resource: dict, operations) -> int:
    """The request's size for the work budget: operations, their value elements and stored elements."""
    size = len(operations) + sum(len(value) for value in resource.values() if isinstance(value, list))
    return size + sum(len(op.value) for op in operations if isinstance(op.value, (list, dict)))


class _Workspace:
    """The multi-valued attributes one PATCH works on, written back to the resource at the end."""

    def __init__(self, budget: WorkBudget) -> None:
        self.budget = budget
        self._stores: dict[tuple[int, str], tuple[dict, Elements]] = {}

    def elements(self, target: _Target) -> Elements:
        slot = (id(target.container), target.name)
        if slot not in self._stores:
            stored = target.container.get(target.name)
            current = list(stored) if isinstance(stored, list) else ([stored] if isinstance(stored, dict) else [])
            self._stores[slot] = (target.container, _Tracked(target.ref.attribute, current, self.budget))
        return self._stores[slot][1]

    def write_back(self) -> None:
        for (_, name), (container, store) in self._stores.items():
            values = store.values()
            if values:
                container[name] = values
            else:
                container.pop(name, None)


class _Tracked(Elements):
    """Elements that drop themselves once they hold labels only (see ``_LABELS``)."""

    def __init__(self, attribute, elements, budget) -> None:
        super().__init__(attribute, elements, budget)
        # What was stored is checked once, after the first operation, as every element is
        # checked after each operation that changed it.
        self._unchecked = set(self.keys())

    def drop_label_only(self, changed: list[int]) -> None:
        for key in [*self._unchecked, *changed]:
            if key in self._items and _is_label_only(self._items[key]):
                self.remove(key)
        self._unchecked.clear()


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


def _apply(resource: dict, operation: PatchOperation, ignored: list[str], workspace: _Workspace) -> None:
    path = operation.path
    assert path is not None
    if path.is_extension:
        _apply_whole_extension(resource, operation, ignored, workspace)
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
        _apply_multi_valued(target, operation, ignored, workspace)
    elif ref.attribute.type == COMPLEX:
        _apply_complex(target, operation, ignored)
    else:
        _apply_simple(target, operation)
    if ref.schema is not USER and not container:
        resource.pop(ref.schema.urn, None)


def _apply_whole_extension(
    resource: dict, operation: PatchOperation, ignored: list[str], workspace: _Workspace
) -> None:
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
        _apply(resource, single, ignored, workspace)


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
# Each variant returns (touched, changed): the keys of the elements it set, which win "primary",
# and of every element it changed or added, which are dropped if only labels are left.


def _apply_multi_valued(target: _Target, operation: PatchOperation, ignored: list[str], workspace: _Workspace) -> None:
    store = workspace.elements(target)
    if target.path.value_filter is not None:
        touched, changed = _apply_filtered(target, store, operation, ignored)
    elif target.ref.sub_attribute is not None:
        touched, changed = _apply_to_every_element(target, store, operation)
    else:
        touched, changed = _apply_whole_list(target, store, operation, ignored)
    changed = [*changed, *_keep_one_primary(store, touched)]
    store.drop_label_only(changed)


def _apply_whole_list(
    target: _Target, store: Elements, operation: PatchOperation, ignored: list[str]
) -> tuple[list[int], list[int]]:
    attribute = target.ref.attribute
    if operation.op == REMOVE:
        if is_clear(operation.value):
            store.clear()
        else:
            _remove_values(attribute, store, operation.value, target.text, ignored)
        return [], []
    new = coerce_attribute(attribute, operation.value, path=target.text, ignored=ignored) or []
    if operation.op == REPLACE:
        store.set_all(new)
        return [], store.keys()
    touched = [store.append(element) for element in new if element not in store]
    return touched, touched


def _remove_values(attribute: Attribute, store: Elements, value: object, path: str, ignored: list[str]) -> None:
    """Remove the elements a remove operation lists in its value (as Entra does for members)."""
    for index, item in enumerate(value if isinstance(value, list) else [value]):
        if isinstance(item, str):
            item = {"value": item}
        probe = coerce_element(attribute, item, path=f"{path}[{index}]", ignored=ignored)
        if probe:
            for key in store.select(_equal_to(probe)):
                store.remove(key)


def _equal_to(probe: dict) -> Expr:
    """The filter an element must match to contain every sub-attribute of ``probe``."""
    filter_: Expr | None = None
    for key, value in probe.items():
        comparison = Comparison(AttrPath(None, key, None), "eq", value)
        filter_ = comparison if filter_ is None else And(filter_, comparison)
    assert filter_ is not None
    return filter_


def _apply_to_every_element(target: _Target, store: Elements, operation: PatchOperation) -> tuple[list[int], list[int]]:
    """Apply ``emails.value``-style paths (no filter) to every element."""
    sub = target.ref.sub_attribute
    value = None if operation.op == REMOVE else coerce_scalar(sub, operation.value, path=target.text)
    if value is not None and not len(store):
        raise NoTargetError(f"{target.text}: there is no element to set it on.")
    store.budget.spend(len(store))
    keys = store.keys()
    for key in keys:
        if isinstance(store[key], dict):
            store.set_sub(key, sub.name, value)
    return (keys if value is True else []), keys


def _apply_filtered(
    target: _Target, store: Elements, operation: PatchOperation, ignored: list[str]
) -> tuple[list[int], list[int]]:
    """Apply ``emails[type eq "work"]`` and ``emails[type eq "work"].value`` paths."""
    sub = target.ref.sub_attribute
    value_filter = target.path.value_filter
    selected = store.select(value_filter)
    if operation.op == REMOVE:
        for key in selected:
            if sub is None:
                store.remove(key)
            else:
                store.set_sub(key, sub.name, None)
        return [], ([] if sub is None else selected)
    if sub is not None:
        new_value = coerce_scalar(sub, operation.value, path=target.text)
        if not selected:
            if new_value is None:
                return [], []  # clearing a value that is not there
            selected = [store.append(_element_from_filter(target, value_filter))]
        for key in selected:
            store.set_sub(key, sub.name, new_value)
        return selected, selected
    replacement = _single_element(target, operation.value, ignored)
    if not selected:
        if replacement is None:
            return [], []
        key = store.append({**_element_from_filter(target, value_filter), **replacement})
        return [key], [key]
    for key in selected:
        if replacement is None:
            store.replace(key, {})
        elif operation.op == ADD:
            store.replace(key, {**store[key], **replacement})
        else:
            store.replace(key, replacement)
    return selected, selected


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


def _is_label_only(element: object) -> bool:
    return isinstance(element, dict) and set(element) <= _LABELS


def _keep_one_primary(store: Elements, touched: list[int]) -> list[int]:
    """RFC 7643 §2.4: "primary" is true at most once; the element just set wins. Return the losers."""
    winner = next(
        (key for key in touched if store.has(key) and isinstance(store[key], dict) and store[key].get("primary") is True),
        None,
    )
    if winner is None:
        return []
    losers = sorted(store.primaries() - {winner})
    for key in losers:
        store.set_sub(key, "primary", False)
    return losers
