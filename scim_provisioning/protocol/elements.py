"""The elements of one multi-valued attribute while a PATCH (RFC 7644 §3.5.2) works on them.

A PATCH may hold many operations on the same attribute; read naively, each would walk the whole
list (to copy it, find duplicates, match a value filter or keep one "primary"), and a request of
N elements and N operations would cost N². ``Elements`` keeps the list in order with hash
indexes instead, so that Entra's shapes (``emails[type eq "work"].value``, ``members[value eq
"…"]``, add or remove by value) find their elements in constant time, and whatever cannot be
looked up is charged to a budget proportional to the request's size (``WorkBudget``): a PATCH
costs at most linear time in what the client sent and what is stored.

Index keys follow ``filters.matches`` exactly: an ``eq`` of a string compares case-insensitively
unless the sub-attribute is caseExact, and booleans, numbers and strings never equal each other.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from .errors import InvalidValueError
from .filters import And, Comparison, Expr, get_case_insensitive, matches
from .schema import Attribute

_NOT_INDEXABLE = object()


class WorkBudget:
    """Element visits a PATCH may make beyond its indexed lookups: linear in the request's size."""

    FACTOR = 16
    FLOOR = 10_000

    def __init__(self, size: int) -> None:
        self.left = self.FLOOR + self.FACTOR * size

    def spend(self, visits: int) -> None:
        self.left -= visits
        if self.left < 0:
            raise InvalidValueError(
                "The PATCH's filters select too many elements for one request; send it as several requests "
                "or use eq filters, which are looked up directly."
            )


def freeze(value: object) -> object:
    """Return a hashable value equal to another's exactly when the two values are equal (==)."""
    if isinstance(value, dict):
        return frozenset((key, freeze(item)) for key, item in value.items())
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def _scalar_key(value: object, case_exact: bool) -> object:
    """The index key an ``eq`` with this value compares on, or ``_NOT_INDEXABLE``."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value if case_exact else value.casefold())
    return _NOT_INDEXABLE


class Elements:
    """An attribute's elements in order, with indexes by whole value and by sub-attribute value."""

    def __init__(self, attribute: Attribute, elements: Iterable[object], budget: WorkBudget) -> None:
        self.attribute = attribute
        self.budget = budget
        self._items: dict[int, object] = {}
        self._next = 0
        self._whole: dict[object, set[int]] = {}
        # folded sub-attribute name -> key -> element keys; built the first time a name is looked up.
        self._by_sub: dict[str, dict[object, set[int]]] = {}
        self._primary: set[int] = set()
        for element in elements:
            self.append(element)

    # --- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, element: object) -> bool:
        return bool(self._whole.get(freeze(element)))

    def keys(self) -> list[int]:
        return list(self._items)

    def has(self, key: int) -> bool:
        return key in self._items

    def __getitem__(self, key: int) -> object:
        return self._items[key]

    def values(self) -> list[object]:
        return list(self._items.values())

    def primaries(self) -> set[int]:
        return set(self._primary)

    def select(self, value_filter: Expr) -> list[int]:
        """Return, in order, the keys of the elements ``value_filter`` matches."""
        candidates = self._candidates(value_filter)
        if candidates is None:
            self.budget.spend(len(self._items))
            candidates = self._items.keys()
        else:
            self.budget.spend(len(candidates))
            candidates = sorted(candidates)
        return [
            key
            for key in candidates
            if isinstance(self._items[key], dict) and matches(value_filter, self._items[key], within=self.attribute)
        ]

    def _candidates(self, value_filter: Expr) -> set[int] | None:
        """The keys an indexed ``eq`` of the filter narrows to (a superset of the matches), or None."""
        best: set[int] | None = None
        pending = [value_filter]
        while pending:
            expr = pending.pop()
            if isinstance(expr, And):
                pending.extend((expr.left, expr.right))
                continue
            if not isinstance(expr, Comparison) or expr.op != "eq" or expr.path.schema or expr.path.sub_attribute:
                continue
            definition = self.attribute.sub_attribute(expr.path.attribute)
            key = _scalar_key(expr.value, definition.case_exact if definition else False)
            if key is _NOT_INDEXABLE:
                continue
            found = self._index(expr.path.attribute).get(key, set())
            if best is None or len(found) < len(best):
                best = found
        return None if best is None else set(best)

    def _index(self, name: str) -> dict[object, set[int]]:
        folded = name.casefold()
        index = self._by_sub.get(folded)
        if index is None:
            index = self._by_sub[folded] = {}
            self.budget.spend(len(self._items))
            for key, element in self._items.items():
                self._index_one(folded, index, key, element)
        return index

    def _sub_keys(self, folded: str, element: object) -> Iterator[object]:
        if not isinstance(element, dict):
            return
        definition = self.attribute.sub_attribute(folded)
        case_exact = definition.case_exact if definition else False
        raw = get_case_insensitive(element, folded)
        for value in raw if isinstance(raw, list) else [raw]:
            key = _scalar_key(value, case_exact)
            if key is not _NOT_INDEXABLE:
                yield key

    def _index_one(self, folded: str, index: dict, key: int, element: object) -> None:
        for sub_key in self._sub_keys(folded, element):
            index.setdefault(sub_key, set()).add(key)

    # --- writing --------------------------------------------------------------------------------

    def append(self, element: object) -> int:
        key = self._next
        self._next += 1
        self._items[key] = element
        self._track(key, element)
        return key

    def remove(self, key: int) -> None:
        self._untrack(key, self._items.pop(key))

    def replace(self, key: int, element: object) -> None:
        """Put a new ``element`` in place of the element under ``key``."""
        self._untrack(key, self._items[key])
        self._items[key] = element
        self._track(key, element)

    def set_sub(self, key: int, name: str, value: object | None) -> None:
        """Set (or, with None, remove) one sub-attribute of the element under ``key``."""
        element = self._items[key]
        self._untrack(key, element)
        if value is None:
            element.pop(name, None)
        else:
            element[name] = value
        self._track(key, element)

    def clear(self) -> None:
        self._items.clear()
        self._whole.clear()
        self._by_sub.clear()
        self._primary.clear()

    def set_all(self, elements: Iterable[object]) -> None:
        self.clear()
        for element in elements:
            self.append(element)

    def _track(self, key: int, element: object) -> None:
        self._whole.setdefault(freeze(element), set()).add(key)
        for folded, index in self._by_sub.items():
            self._index_one(folded, index, key, element)
        if isinstance(element, dict) and element.get("primary") is True:
            self._primary.add(key)

    def _untrack(self, key: int, element: object) -> None:
        frozen = freeze(element)
        holders = self._whole.get(frozen)
        if holders is not None:
            holders.discard(key)
            if not holders:
                del self._whole[frozen]
        for folded, index in self._by_sub.items():
            for sub_key in self._sub_keys(folded, element):
                found = index.get(sub_key)
                if found is not None:
                    found.discard(key)
                    if not found:
                        del index[sub_key]
        self._primary.discard(key)
