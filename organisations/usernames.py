"""The one comparison key for sign-in names and addresses, and what a sign-in name may contain.

Two names are the same person's when their keys are equal: Unicode NFKC normalisation and full
case folding, computed here in Python and stored, so that every database compares the same way
(the Kelvin sign is "k", "ß" is "ss", full-width letters are their ASCII forms, and a dotless
"ı" stays distinct from "i"). Uniqueness, the SCIM ``userName`` filter, matching at sign-in and
``/signin/`` routing all compare these keys.
"""
from __future__ import annotations

import unicodedata

# Keys are stored in an indexed column; PostgreSQL's B-tree entries must stay well below 2704 bytes.
KEY_MAX_LENGTH = 1024
KEY_MAX_BYTES = 2048


def name_key(value: str) -> str:
    """Return the comparison key of a sign-in name, address or domain."""
    # NFKC before and after folding: folding can produce sequences NFKC would compose again.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def _is_invisible(character: str) -> bool:
    # Control, format (zero-width and bidirectional marks), surrogate, private-use and unassigned
    # characters, and line or paragraph separators: none belongs in a sign-in name, and several
    # make one name look like another.
    category = unicodedata.category(character)
    return category[0] == "C" or category in ("Zl", "Zp")


def user_name_problem(value: str) -> str | None:
    """Return why ``value`` cannot be a sign-in name, or ``None`` when it can."""
    if not value.strip():
        return "must not be blank"
    if value != value.strip():
        return "must not start or end with whitespace"
    if any(_is_invisible(character) for character in value):
        return "must not contain control or invisible characters"
    key = name_key(value)
    if len(key) > KEY_MAX_LENGTH or len(key.encode("utf-8")) > KEY_MAX_BYTES:
        return f"is too long once normalised (at most {KEY_MAX_LENGTH} characters)"
    return None


def address_key(value: str) -> str:
    """Return the key of an email address, or "" when it is blank or too long to index."""
    value = (value or "").strip()
    if not value:
        return ""
    key = name_key(value)
    return key if len(key) <= KEY_MAX_LENGTH and len(key.encode("utf-8")) <= KEY_MAX_BYTES else ""


def domain_of(value: str) -> str:
    """Return the key of the domain of a name or address (after its last "@"), or ""."""
    local, at, domain = name_key(value or "").rpartition("@")
    return domain.strip().rstrip(".") if at and local else ""


def domain_key(value: str) -> str:
    """Return the key of a domain as an administrator typed it ("Contoso.com." is "contoso.com")."""
    return name_key((value or "").strip()).rstrip(".")


def domain_problem(value: str) -> str | None:
    """Return why ``value`` (a domain key) cannot be claimed, or ``None`` when it can."""
    if not value:
        return "is blank"
    if "@" in value or any(character.isspace() or _is_invisible(character) for character in value):
        return "must be a domain name such as contoso.com, without '@' or spaces"
    labels = value.split(".")
    if len(labels) < 2 or any(not label or label.startswith("-") or label.endswith("-") for label in labels):
        return "must be a domain name such as contoso.com"
    if len(value) > 253:
        return "is longer than a domain name can be (253 characters)"
    return None
