"""Group resources (RFC 7643 §4.2): POST bodies, PATCH change-sets (RFC 7644 §3.5.2), filters, projection.

Pure functions over plain data, like ``resource`` and ``patch`` are for users. A group is its
``displayName``, its ``externalId`` and its ``members`` (ids of Users); everything else a client
sends is skipped and reported as ignored.

``group_changes`` reduces a PatchOp's operations, in order, to one ``GroupChanges``: the new
name and external id, and the member ids to add and to remove (or the whole new list when
the request replaced or cleared it). The database layer then applies it in one go, so a
membership change costs linear time in the number of members the request names.

Entra sends both of its dialects (entra-scim.md §3.2, §3.3, and the compatibility page):

* legacy: ``{"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}``;
* aadOptscim062020: ``{"op": "remove", "path": "members[value eq \\"<id>\\"]"}``;

and adds with ``{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "<id>"}]}``.
A path-less replace whose value holds ``displayName`` and ``externalId`` works as well.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .constants import GROUP_URN
from .errors import InvalidFilterError, InvalidPathError, InvalidSyntaxError, InvalidValueError, MutabilityError
from .filters import And, Comparison, Expr, Or, PatchPath, ValuePath, get_case_insensitive
from .patch import ADD, REMOVE, REPLACE, PatchOperation
from .resource import _canonical_items, _check_text, _show, is_clear

# The most member ids one request may name (a POST's members, or all of a PATCH's operations
# together). Microsoft documents Entra's group PATCH with one member per operation
# (learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups,
# "Update Group [Add Members]" and "[Remove Members]") and states no larger batch; gallery
# apps Entra provisions accept 100 membership changes per request at most (AWS IAM Identity
# Center's PatchGroup constraints). Ten times that leaves Entra ample room while keeping one
# request's cost bounded.
MAX_MEMBERS = 1000
# Entra ID's own limit for a group's displayName.
DISPLAY_NAME_MAX = 256
EXTERNAL_ID_MAX = 1024

def name_key(display_name: str) -> str:
    """The key displayName is compared and kept unique by: caseExact is false (RFC 7643 §4.2)."""
    return display_name.casefold()


@dataclass(frozen=True)
class GroupInput:
    """A group as a POST describes it."""

    display_name: str
    external_id: str
    members: tuple[str, ...]
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupChanges:
    """What one PATCH does to a group; ``None`` leaves a field as it is."""

    display_name: str | None = None
    external_id: str | None = None
    # The whole new member list, when the request replaced or removed all members.
    replace_members: tuple[str, ...] | None = None
    add_members: tuple[str, ...] = ()
    remove_members: tuple[str, ...] = ()
    ignored: tuple[str, ...] = field(default=())

    @property
    def changes_members(self) -> bool:
        return self.replace_members is not None or bool(self.add_members or self.remove_members)


# --- POST --------------------------------------------------------------------------------


def normalise_group(body: object) -> GroupInput:
    """Validate a POST body and return the group it describes."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("The request body must be a JSON object.")
    ignored: list[str] = []
    display_name: object = None
    external_id: object = None
    members: object = None
    for key, value in _canonical_items(body, "body"):
        name = _attribute_name(key)
        if name == "displayname":
            display_name = value
        elif name == "externalid":
            external_id = value
        elif name == "members":
            members = value
        elif name not in ("schemas", "id", "meta"):
            ignored.append(key)
    budget = _MemberBudget()
    return GroupInput(
        display_name=_display_name(display_name),
        external_id=_external_id(external_id),
        members=tuple(dict.fromkeys(_member_ids(members, path="members", budget=budget))),
        ignored=tuple(ignored),
    )


def _attribute_name(key: str) -> str:
    """A body key's attribute name, folded; a Group-URN-qualified key names the same attribute."""
    schema, colon, name = key.rpartition(":")
    if colon and schema.casefold() == GROUP_URN.casefold():
        return name.casefold()
    return key.casefold()


def _display_name(value: object) -> str:
    if is_clear(value) or (isinstance(value, str) and not value.strip()):
        raise InvalidValueError("displayName is required and cannot be blank.")
    if not isinstance(value, str):
        raise InvalidValueError(f"displayName must be a string, not {_show(value)}.")
    if len(value) > DISPLAY_NAME_MAX:
        raise InvalidValueError(f"displayName is longer than {DISPLAY_NAME_MAX} characters.")
    return _check_text(value, "displayName")


def _external_id(value: object) -> str:
    if is_clear(value):
        return ""
    if not isinstance(value, str):
        raise InvalidValueError(f"externalId must be a string, not {_show(value)}.")
    if len(value) > EXTERNAL_ID_MAX:
        raise InvalidValueError(f"externalId is longer than {EXTERNAL_ID_MAX} characters.")
    return _check_text(value, "externalId")


class _MemberBudget:
    """Counts the member ids of one request against ``MAX_MEMBERS``."""

    def __init__(self) -> None:
        self.used = 0

    def spend(self, count: int) -> None:
        self.used += count
        if self.used > MAX_MEMBERS:
            # RFC 7644 has no scimType for a request that is too large; invalidValue is the closest.
            raise InvalidValueError(
                f"A request may name at most {MAX_MEMBERS} members; this one names more. "
                "Send the membership changes in several requests."
            )


def _member_ids(value: object, *, path: str, budget: _MemberBudget) -> list[str]:
    """The ids a members value lists: ``[{"value": id, …}, …]``, one such object, or bare ids."""
    if is_clear(value):
        return []
    items = value if isinstance(value, list) else [value]
    budget.spend(len(items))
    ids = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if isinstance(item, dict):
            _canonical_items(item, where)
            if not any(isinstance(key, str) and key.casefold() == "value" for key in item):
                raise InvalidValueError(f"{where} needs a 'value' holding the id of a User.")
            item = get_case_insensitive(item, "value")
        if not isinstance(item, str) or not item.strip():
            raise InvalidValueError(f"{where}.value must be the id of a User, not {_show(item)}.")
        ids.append(_check_text(item, f"{where}.value"))
    return ids


# --- PATCH -------------------------------------------------------------------------------


class _Reduction:
    """The running state of ``group_changes``: later operations win over earlier ones."""

    def __init__(self) -> None:
        self.display_name: str | None = None
        self.external_id: str | None = None
        self.replace: dict[str, None] | None = None
        self.add: dict[str, None] = {}
        self.remove: dict[str, None] = {}
        self.ignored: list[str] = []
        self.budget = _MemberBudget()

    def add_members(self, ids: list[str]) -> None:
        for member in ids:
            if self.replace is not None:
                self.replace[member] = None
            else:
                self.remove.pop(member, None)
                self.add[member] = None

    def remove_members(self, ids: list[str]) -> None:
        for member in ids:
            if self.replace is not None:
                self.replace.pop(member, None)
            else:
                self.add.pop(member, None)
                self.remove[member] = None

    def replace_members(self, ids: list[str]) -> None:
        self.replace = dict.fromkeys(ids)
        self.add.clear()
        self.remove.clear()

    def result(self) -> GroupChanges:
        return GroupChanges(
            display_name=self.display_name,
            external_id=self.external_id,
            replace_members=None if self.replace is None else tuple(self.replace),
            add_members=tuple(self.add),
            remove_members=tuple(self.remove),
            ignored=tuple(self.ignored),
        )


def group_changes(operations: tuple[PatchOperation, ...] | list[PatchOperation], *, group_id: str) -> GroupChanges:
    """Reduce normalised PATCH operations (``patch.normalise_patch``) on a group to a change-set."""
    state = _Reduction()
    for index, operation in enumerate(operations):
        assert operation.path is not None  # normalise_patch expands path-less values
        _reduce(state, operation, f"Operations[{index}]", group_id)
    return state.result()


def _reduce(state: _Reduction, operation: PatchOperation, where: str, group_id: str) -> None:
    path: PatchPath = operation.path
    attribute = path.attribute
    if attribute.schema is not None and attribute.schema.casefold() != GROUP_URN.casefold():
        state.ignored.append(str(path))
        return
    name = attribute.attribute.casefold()
    if name == "members":
        _reduce_members(state, operation, where)
        return
    if path.value_filter is not None or path.sub_attribute is not None or attribute.sub_attribute is not None:
        if name in ("displayname", "externalid", "id"):
            raise InvalidPathError(f"{where}: {path} names no part of a group attribute.")
        state.ignored.append(str(path))
        return
    if name == "displayname":
        if operation.op == REMOVE:
            raise InvalidValueError("displayName is required and cannot be removed.")
        state.display_name = _display_name(operation.value)
    elif name == "externalid":
        state.external_id = "" if operation.op == REMOVE else _external_id(operation.value)
    elif name == "id":
        # Entra's path-less replace may echo the id back unchanged; only a change is refused.
        if operation.op == REMOVE or operation.value != group_id:
            raise MutabilityError("id is assigned by the server and cannot be changed.")
    else:
        state.ignored.append(str(path))  # meta, and attributes groups do not have


def _reduce_members(state: _Reduction, operation: PatchOperation, where: str) -> None:
    path = operation.path
    if path.sub_attribute is not None or path.attribute.sub_attribute is not None:
        raise InvalidPathError(f"{where}: members can only be changed whole, not {path}.")
    if path.value_filter is not None:
        if operation.op != REMOVE:
            raise InvalidPathError(
                f"{where}: {operation.op} takes path 'members' with a list of values, not a filter."
            )
        selected = _filtered_member_ids(path.value_filter, where)
        state.budget.spend(len(selected))
        state.remove_members(selected)
        return
    if operation.op == REMOVE:
        if operation.value is None:
            state.replace_members([])  # RFC 7644 §3.5.2.2: a remove without a value removes all
        else:
            state.remove_members(_member_ids(operation.value, path=f"{where}.value", budget=state.budget))
    elif operation.op == ADD:
        state.add_members(_member_ids(operation.value, path=f"{where}.value", budget=state.budget))
    else:
        assert operation.op == REPLACE
        state.replace_members(_member_ids(operation.value, path=f"{where}.value", budget=state.budget))


def _filtered_member_ids(value_filter: Expr, where: str) -> list[str]:
    """The ids ``members[value eq "a" or value eq "b"]`` names; any other filter is refused."""
    ids: list[str] = []
    pending = [value_filter]
    while pending:
        expr = pending.pop()
        if isinstance(expr, Or):
            pending.extend((expr.right, expr.left))
            continue
        if (
            not isinstance(expr, Comparison)
            or expr.op != "eq"
            or expr.path.schema is not None
            or expr.path.sub_attribute is not None
            or expr.path.attribute.casefold() != "value"
            or not isinstance(expr.value, str)
        ):
            raise InvalidPathError(f'{where}: members can be selected by members[value eq "<id>"] only.')
        ids.append(expr.value)
    return ids


# --- queries -----------------------------------------------------------------------------

# The attributes a group filter compares, and how: name key, exact text, or member id.
FILTERABLE = {"displayname": "displayName", "externalid": "externalId", "id": "id"}


@dataclass(frozen=True)
class GroupCondition:
    """One comparison of a group filter: ``attribute`` is displayName, externalId, id or members."""

    attribute: str
    value: str


def group_filter_conditions(expr: Expr) -> list[GroupCondition]:
    """Return the conditions, all of which a group must meet, of a group filter.

    Entra filters groups by ``displayName eq`` (and may use ``externalId eq``, or ``id eq … and
    members[value eq …]`` to ask whether a user is a member); anything else is refused rather
    than silently widened.
    """
    conditions: list[GroupCondition] = []
    pending = [expr]
    while pending:
        item = pending.pop()
        if isinstance(item, And):
            pending.extend((item.right, item.left))
        elif isinstance(item, ValuePath) and item.path.attribute.casefold() == "members" and item.path.schema is None:
            conditions.extend(GroupCondition("members", value) for value in _filtered_member_ids_for_filter(item.filter))
        elif isinstance(item, Comparison) and item.op == "eq" and isinstance(item.value, str):
            conditions.append(_comparison_condition(item))
        else:
            raise InvalidFilterError(
                "Groups can be filtered with eq on displayName, externalId or id, and members[value eq \"…\"], "
                "joined by and."
            )
    return conditions


def _comparison_condition(item: Comparison) -> GroupCondition:
    path = item.path
    if path.schema is not None and path.schema.casefold() != GROUP_URN.casefold():
        raise InvalidFilterError(f"{path} is not an attribute of a group.")
    name = path.attribute.casefold()
    if name == "members" and (path.sub_attribute or "").casefold() == "value":
        return GroupCondition("members", item.value)
    if path.sub_attribute is None and name in FILTERABLE:
        return GroupCondition(FILTERABLE[name], item.value)
    raise InvalidFilterError(f"Groups cannot be filtered on {path}.")


def _filtered_member_ids_for_filter(value_filter: Expr) -> list[str]:
    try:
        return _filtered_member_ids(value_filter, "filter")
    except InvalidPathError:
        raise InvalidFilterError('Members can be filtered by members[value eq "<id>"] only.') from None


# --- output ------------------------------------------------------------------------------

_ALWAYS = frozenset({"schemas", "id", "meta"})


def project_group(resource: dict, *, attributes: list[str] | None = None, excluded: list[str] | None = None) -> dict:
    """Apply ``attributes`` / ``excludedAttributes`` (RFC 7644 §3.9) to a group representation."""
    def names(listed: list[str] | None) -> set[str]:
        return {_attribute_name(name.strip()).partition(".")[0] for name in listed or []}

    wanted, unwanted = names(attributes), names(excluded)
    return {
        key: value
        for key, value in resource.items()
        if key in _ALWAYS or ((not wanted or key.casefold() in wanted) and key.casefold() not in unwanted)
    }
