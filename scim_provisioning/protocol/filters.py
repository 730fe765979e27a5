"""Filter expressions (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).

Text is parsed into an AST of frozen dataclasses; evaluation (``matches``) is
separate, and the Django layer turns the same AST into a query. Parsing is
strict (a malformed filter is ``InvalidFilterError``, a malformed path is
``InvalidPathError``, never anything else) with two Entra-only tolerances:

* ``emails[type eq "work"].value eq "x"``, the form Microsoft documents for
  matching on the work email, which the RFC grammar does not allow. It is read
  as ``emails[type eq "work" and value eq "x"]``.
* ``externalId eq jyoung``, a bare-word value from an old Microsoft example.
  See ``_parse_value`` for the rule.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import NamedTuple, Union

from .constants import USER_URN
from .errors import InvalidFilterError, InvalidPathError, ScimError
from .schema import COMPLEX, Attribute, AttributeRef, extension_for_urn, resolve_attribute, schema_for_urn

MAX_LENGTH = 4096
# Bounds the height of the tree, counting both parenthesis nesting and and/or
# chains, so that every recursive consumer (``matches``, the Django query
# builder) stays far below Python's recursion limit.
MAX_DEPTH = 50

COMPARISON_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
_STRING_OPERATORS = frozenset({"co", "sw", "ew"})
_ORDERING_OPERATORS = frozenset({"gt", "ge", "lt", "le"})
KEYWORDS = COMPARISON_OPERATORS | {"pr", "and", "or", "not"}
_LITERALS = {"true": True, "false": False, "null": None}

Value = Union[str, int, float, bool, None]


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``[schema:]attribute[.sub_attribute]``, with names exactly as written."""

    schema: str | None
    attribute: str
    sub_attribute: str | None = None

    def __str__(self) -> str:
        text = f"{self.schema}:{self.attribute}" if self.schema else self.attribute
        return f"{text}.{self.sub_attribute}" if self.sub_attribute else text


@dataclass(frozen=True, slots=True)
class Comparison:
    path: AttrPath
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class Present:
    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not:
    expr: Expr


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``attribute[filter]``: the filter's paths name sub-attributes of each element."""

    path: AttrPath
    filter: Expr


Expr = Union[Comparison, Present, And, Or, Not, ValuePath]


@dataclass(frozen=True, slots=True)
class PatchPath:
    """A PATCH ``path``: an attribute, optionally a value filter, optionally a sub-attribute.

    The sub-attribute always lives here, never in ``attribute.sub_attribute``:
    ``name.givenName`` and ``emails[type eq "work"].value`` have the same shape.
    A path naming a whole extension (its bare URN) has ``attribute.attribute == ""``
    and the URN in ``attribute.schema``.
    """

    attribute: AttrPath
    value_filter: Expr | None = None
    sub_attribute: str | None = None

    @property
    def is_extension(self) -> bool:
        """Whether the path names a whole schema extension rather than an attribute."""
        return self.attribute.attribute == ""

    def __str__(self) -> str:
        if self.is_extension:
            return self.attribute.schema or ""
        text = str(self.attribute)
        if self.value_filter is not None:
            text += f"[{format_filter(self.value_filter)}]"
        return f"{text}.{self.sub_attribute}" if self.sub_attribute else text


# --- lexing ------------------------------------------------------------------------------

class _Token(NamedTuple):
    kind: str  # "word", "string", "number", "(", ")", "[", "]", ".", "end"
    text: str
    position: int
    value: Value = None


_WORD = re.compile(r"[A-Za-z$][A-Za-z0-9_\-$.:]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
_SUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*|\$ref", re.IGNORECASE)
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9_\-.:]*", re.IGNORECASE)
# Entra-only: the value of ``externalId eq jyoung``. No colon or "$", so it
# cannot be mistaken for an attribute path, and keywords are excluded.
_BARE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-.]*")


def _check_text(text: object, error: type[ScimError], what: str) -> str:
    if not isinstance(text, str):
        raise error(f"The {what} must be a string.")
    if len(text) > MAX_LENGTH:
        raise error(f"The {what} is longer than {MAX_LENGTH} characters.")
    for position, char in enumerate(text):
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise error(f"The {what} contains a control character at position {position}.")
    if not text.strip(" "):
        raise error(f"The {what} is empty.")
    return text


def _lex(text: str, error: type[ScimError]) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == " ":
            position += 1
        elif char in "()[].":
            tokens.append(_Token(char, char, position))
            position += 1
        elif char == '"':
            token = _lex_string(text, position, error)
            tokens.append(token)
            position += len(token.text)
        elif char == "-" or char.isdigit():
            token = _lex_number(text, position, error)
            tokens.append(token)
            position += len(token.text)
        elif (match := _WORD.match(text, position)) is not None:
            tokens.append(_Token("word", match.group(), position))
            position = match.end()
        else:
            raise error(f"Unexpected character {char!r} at position {position}.")
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _lex_string(text: str, start: int, error: type[ScimError]) -> _Token:
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == '"':
            raw = text[start : position + 1]
            try:
                value = json.loads(raw)
                # Lone surrogates decode but cannot be encoded as UTF-8, and
                # PostgreSQL rejects NUL: both would become a 500 downstream.
                value.encode("utf-8")
            except (ValueError, UnicodeEncodeError):
                raise error(f"Invalid string literal at position {start}.") from None
            if "\x00" in value:
                raise error(f"The string at position {start} contains a NUL character.")
            return _Token("string", raw, start, value)
        position += 1
    raise error(f"Unterminated string starting at position {start}.")


def _lex_number(text: str, start: int, error: type[ScimError]) -> _Token:
    match = _NUMBER.match(text, start)
    end = match.end() if match else start
    if match is None or (end < len(text) and (text[end].isalnum() or text[end] in "_$.:-")):
        raise error(f"Malformed number at position {start}.")
    raw = match.group()
    value: int | float = int(raw) if re.fullmatch(r"-?[0-9]+", raw) else float(raw)
    if isinstance(value, float) and not math.isfinite(value):
        raise error(f"Number out of range at position {start}.")
    return _Token("number", raw, start, value)


# --- parsing -----------------------------------------------------------------------------

def _describe(token: _Token) -> str:
    return "end of input" if token.kind == "end" else f"{token.text!r} at position {token.position}"


class _Parser:
    """Recursive descent over the token list; each method returns (expression, height)."""

    def __init__(self, tokens: list[_Token], error: type[ScimError]) -> None:
        self.tokens = tokens
        self.index = 0
        self.error = error
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_keyword(self, token: _Token, keyword: str) -> bool:
        return token.kind == "word" and token.text.lower() == keyword

    def expect(self, kind: str, wanted: str) -> _Token:
        token = self.advance()
        if token.kind != kind:
            raise self.error(f"Expected {wanted} but found {_describe(token)}.")
        return token

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            raise self.error(f"Unexpected {_describe(token)}.")

    def check_height(self, height: int, token: _Token) -> None:
        if height > MAX_DEPTH:
            raise self.error(f"The expression is nested or chained too deeply (at position {token.position}).")

    def parse_or(self, inner: bool) -> tuple[Expr, int]:
        left, height = self.parse_and(inner)
        while self.is_keyword(self.peek(), "or"):
            token = self.advance()
            right, right_height = self.parse_and(inner)
            left, height = Or(left, right), max(height, right_height) + 1
            self.check_height(height, token)
        return left, height

    def parse_and(self, inner: bool) -> tuple[Expr, int]:
        left, height = self.parse_unary(inner)
        while self.is_keyword(self.peek(), "and"):
            token = self.advance()
            right, right_height = self.parse_unary(inner)
            left, height = And(left, right), max(height, right_height) + 1
            self.check_height(height, token)
        return left, height

    def parse_unary(self, inner: bool) -> tuple[Expr, int]:
        token = self.peek()
        if self.is_keyword(token, "not"):
            self.advance()
            self.expect("(", "'(' after 'not'")
            expr, height = self.parse_group(inner, token)
            self.check_height(height + 1, token)
            return Not(expr), height + 1
        if token.kind == "(":
            self.advance()
            return self.parse_group(inner, token)
        if token.kind == "word" and token.text.lower() not in KEYWORDS:
            return self.parse_attribute_expression(inner)
        raise self.error(f"Expected an attribute, '(' or 'not' but found {_describe(token)}.")

    def parse_group(self, inner: bool, opening: _Token) -> tuple[Expr, int]:
        # Each group costs a few Python frames; bounding it here keeps the
        # recursion itself (not only the resulting tree) shallow.
        self.depth += 1
        self.check_height(self.depth, opening)
        expr, height = self.parse_or(inner)
        self.expect(")", "')'")
        self.depth -= 1
        return expr, height

    def parse_attribute_expression(self, inner: bool) -> tuple[Expr, int]:
        token = self.advance()
        path = self.attr_path(token, inner)
        if self.peek().kind == "[":
            return self.parse_value_path(path, token, inner)
        return self.parse_comparison(path), 1

    def parse_value_path(self, path: AttrPath, token: _Token, inner: bool) -> tuple[Expr, int]:
        if inner:
            raise self.error(f"Value filters cannot be nested (at position {self.peek().position}).")
        if path.sub_attribute is not None:
            raise self.error(f"A value filter must follow an attribute, not the sub-attribute {str(path)!r}.")
        self.advance()
        expr, height = self.parse_or(inner=True)
        closing = self.expect("]", "']'")
        follower = self.peek()
        if follower.kind == "." and follower.position == closing.position + 1:
            # Entra-only: emails[type eq "work"].value eq "x" (see module docstring).
            self.advance()
            sub_path = AttrPath(None, self.sub_name(self.advance()), None)
            expr, height = And(expr, self.parse_comparison(sub_path)), max(height, 1) + 1
        self.check_height(height + 1, token)
        return ValuePath(path, expr), height + 1

    def parse_comparison(self, path: AttrPath) -> Expr:
        token = self.advance()
        operator = token.text.lower() if token.kind == "word" else ""
        if operator == "pr":
            return Present(path)
        if operator not in COMPARISON_OPERATORS:
            raise self.error(f"Expected an operator after {str(path)!r} but found {_describe(token)}.")
        return Comparison(path, operator, self.parse_value(operator))

    def parse_value(self, operator: str) -> Value:
        token = self.advance()
        if token.kind in ("string", "number"):
            value = token.value
        elif token.kind == "word" and token.text.lower() in _LITERALS:
            value = _LITERALS[token.text.lower()]
        elif (
            token.kind == "word"
            and operator == "eq"
            and token.text.lower() not in KEYWORDS
            and _BARE_WORD.fullmatch(token.text)
        ):
            # Entra-only: Microsoft's "Example 1" filters with externalId eq jyoung
            # (unquoted). Accepted for eq alone, and only for a word that is not a
            # keyword or literal and could not be an attribute path.
            value = token.text
        else:
            raise self.error(
                f"Expected a value after {operator!r} but found {_describe(token)}; strings must be double-quoted."
            )
        if operator in _STRING_OPERATORS and not isinstance(value, str):
            raise self.error(f"The operator {operator!r} needs a string value (at position {token.position}).")
        if operator in _ORDERING_OPERATORS and (value is None or isinstance(value, bool)):
            raise self.error(f"The operator {operator!r} cannot compare {token.text} (at position {token.position}).")
        return value

    def attr_path(self, token: _Token, inner: bool) -> AttrPath:
        text = token.text
        if inner:
            # Inside brackets a path names a sub-attribute of the element.
            return AttrPath(None, self.sub_name(token), None)
        schema: str | None = None
        rest = text
        if ":" in text:
            schema, _, rest = text.rpartition(":")
            if not _URN.fullmatch(schema):
                raise self.error(f"Invalid schema URN in {text!r} at position {token.position}.")
        attribute, dot, sub_attribute = rest.partition(".")
        if not _NAME.fullmatch(attribute) or (dot and not _SUB_NAME.fullmatch(sub_attribute)):
            raise self.error(f"Invalid attribute path {text!r} at position {token.position}.")
        return AttrPath(schema, attribute, sub_attribute if dot else None)

    def sub_name(self, token: _Token) -> str:
        if token.kind != "word" or not _SUB_NAME.fullmatch(token.text) or token.text.lower() in KEYWORDS:
            raise self.error(f"Expected a sub-attribute name but found {_describe(token)}.")
        return token.text


def parse_filter(text: str) -> Expr:
    """Parse a ``filter`` query parameter; raise ``InvalidFilterError`` if it is malformed."""
    _check_text(text, InvalidFilterError, "filter")
    parser = _Parser(_lex(text, InvalidFilterError), InvalidFilterError)
    expr, _ = parser.parse_or(inner=False)
    parser.expect_end()
    return expr


def parse_path(text: str) -> PatchPath:
    """Parse a PATCH ``path``; raise ``InvalidPathError`` if it is malformed."""
    _check_text(text, InvalidPathError, "path")
    stripped = text.strip(" ")
    if extension_for_urn(stripped) is not None:
        return PatchPath(AttrPath(stripped, "", None))
    parser = _Parser(_lex(stripped, InvalidPathError), InvalidPathError)
    first = parser.advance()
    if first.kind != "word" or first.text.lower() in KEYWORDS:
        raise InvalidPathError(f"Expected an attribute but found {_describe(first)}.")
    attribute = parser.attr_path(first, inner=False)
    value_filter: Expr | None = None
    sub_attribute = attribute.sub_attribute
    if parser.peek().kind == "[":
        if sub_attribute is not None:
            raise InvalidPathError(f"A value filter must follow an attribute, not {str(attribute)!r}.")
        parser.advance()
        value_filter, _ = parser.parse_or(inner=True)
        closing = parser.expect("]", "']'")
        if parser.peek().kind == ".":
            dot = parser.advance()
            if dot.position != closing.position + 1:
                raise InvalidPathError(f"Unexpected '.' at position {dot.position}.")
            sub_attribute = parser.sub_name(parser.advance())
    parser.expect_end()
    return PatchPath(AttrPath(attribute.schema, attribute.attribute, None), value_filter, sub_attribute)


# --- formatting --------------------------------------------------------------------------

def format_filter(expr: Expr) -> str:
    """Render an expression as filter text that parses back to the same tree."""
    if isinstance(expr, Comparison):
        # json.dumps leaves DEL unescaped, which the parser refuses as a control character.
        literal = json.dumps(expr.value, ensure_ascii=False).replace("\x7f", "\\u007f")
        return f"{expr.path} {expr.op} {literal}"
    if isinstance(expr, Present):
        return f"{expr.path} pr"
    if isinstance(expr, Not):
        return f"not ({format_filter(expr.expr)})"
    if isinstance(expr, ValuePath):
        return f"{expr.path}[{format_filter(expr.filter)}]"
    keyword = "and" if isinstance(expr, And) else "or"
    # Parenthesise every logical child except a left child of the same kind,
    # which the left-associative grammar reproduces without help.
    left = format_filter(expr.left)
    if isinstance(expr.left, (And, Or)) and type(expr.left) is not type(expr):
        left = f"({left})"
    right = format_filter(expr.right)
    if isinstance(expr.right, (And, Or)):
        right = f"({right})"
    return f"{left} {keyword} {right}"


# --- evaluation --------------------------------------------------------------------------

def get_case_insensitive(data: dict, key: str) -> object:
    """Return ``data[key]`` matching the key case-insensitively (RFC 7643 §2.1), else None."""
    if key in data:
        return data[key]
    folded = key.casefold()
    for candidate, value in data.items():
        if isinstance(candidate, str) and candidate.casefold() == folded:
            return value
    return None


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _container(data: dict, path: AttrPath, ref: AttributeRef | None) -> dict | None:
    """Return the object holding the path's attribute: the resource, or an extension's object."""
    container: object = data
    if ref is not None and ref.schema.urn != USER_URN:
        container = get_case_insensitive(data, ref.schema.urn)
    elif ref is None and path.schema is not None and schema_for_urn(path.schema) is None:
        container = get_case_insensitive(data, path.schema)
    return container if isinstance(container, dict) else None


def _candidates(
    data: dict, path: AttrPath, within: Attribute | None, *, for_presence: bool
) -> tuple[list, Attribute | None]:
    """Collect the values a path selects in ``data`` and the definition that governs them."""
    if within is not None:
        return _as_list(get_case_insensitive(data, path.attribute)), within.sub_attribute(path.attribute)
    ref = resolve_attribute(path.schema, path.attribute)
    container = _container(data, path, ref)
    if container is None:
        return [], None
    values = _as_list(get_case_insensitive(container, path.attribute))
    definition = ref.attribute if ref else None
    sub_name = path.sub_attribute
    if sub_name is None and not for_presence and (
        (definition is not None and definition.type == COMPLEX) or any(isinstance(v, dict) for v in values)
    ):
        # RFC 7644 §3.4.2.2: a complex attribute compared without a sub-attribute
        # is compared on its "value" (this is how Entra's ``manager eq "id"`` works).
        sub_name = "value"
    if sub_name is None:
        return values, definition
    selected = [
        item
        for element in values
        if isinstance(element, dict)
        for item in _as_list(get_case_insensitive(element, sub_name))
    ]
    return selected, definition.sub_attribute(sub_name) if definition else None


def _is_present(value: object) -> bool:
    return value not in (None, "", [], {})


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compare(operator: str, actual: object, expected: Value, case_exact: bool) -> bool:
    if isinstance(expected, bool) or expected is None:
        return isinstance(actual, bool) and operator == "eq" and actual is expected
    if _is_number(expected):
        if not _is_number(actual):
            return False
        left, right = actual, expected
    else:
        if not isinstance(actual, str):
            return False
        left, right = (actual, expected) if case_exact else (actual.casefold(), expected.casefold())
    if operator == "eq":
        return left == right
    if operator in _STRING_OPERATORS and not isinstance(right, str):
        return False
    if operator == "co":
        return right in left
    if operator == "sw":
        return left.startswith(right)
    if operator == "ew":
        return left.endswith(right)
    return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[operator]


def matches(expr: Expr, data: dict, *, within: Attribute | None = None) -> bool:
    """Tell whether a resource, or one element of the attribute ``within``, satisfies ``expr``."""
    # Names match case-insensitively; strings compare honouring the attribute's
    # caseExact (unknown attributes use the RFC default, case-insensitive); a
    # multi-valued attribute matches if any element does. The RFC leaves absent
    # values open: here "ne" is the negation of "eq" (so it matches an absent
    # attribute) and "eq null" matches only an absent attribute.
    if isinstance(expr, And):
        return matches(expr.left, data, within=within) and matches(expr.right, data, within=within)
    if isinstance(expr, Or):
        return matches(expr.left, data, within=within) or matches(expr.right, data, within=within)
    if isinstance(expr, Not):
        return not matches(expr.expr, data, within=within)
    if isinstance(expr, Present):
        values, _ = _candidates(data, expr.path, within, for_presence=True)
        return any(_is_present(value) for value in values)
    if isinstance(expr, ValuePath):
        return _matches_value_path(expr, data, within)
    values, definition = _candidates(data, expr.path, within, for_presence=False)
    if expr.value is None:
        present = any(_is_present(value) for value in values)
        return present if expr.op == "ne" else (expr.op == "eq" and not present)
    case_exact = definition.case_exact if definition else False
    if expr.op == "ne":
        return not any(_compare("eq", value, expr.value, case_exact) for value in values)
    return any(_compare(expr.op, value, expr.value, case_exact) for value in values)


def _matches_value_path(expr: ValuePath, data: dict, within: Attribute | None) -> bool:
    if within is not None:
        # The parser never nests value paths; a hand-built tree that does matches nothing.
        return False
    ref = resolve_attribute(expr.path.schema, expr.path.attribute)
    container = _container(data, expr.path, ref)
    if container is None:
        return False
    definition = ref.attribute if ref else Attribute(expr.path.attribute, COMPLEX)
    elements = _as_list(get_case_insensitive(container, expr.path.attribute))
    return any(isinstance(element, dict) and matches(expr.filter, element, within=definition) for element in elements)
