"""The one comparison key for sign-in names: the same on every database, computed here."""
from __future__ import annotations

import pytest

from organisations.usernames import domain_key, domain_of, domain_problem, name_key, user_name_problem

# (one spelling, another, whether they name the same person)
EQUIVALENCES = [
    ("alice@contoso.com", "ALICE@Contoso.COM", True),
    ("\u212aate@contoso.com", "kate@contoso.com", True),  # Kelvin sign K
    ("\u212aate@contoso.com", "KATE@contoso.com", True),
    ("straße@contoso.com", "STRASSE@contoso.com", True),  # ß folds to ss
    ("straße@contoso.com", "strasse@contoso.com", True),
    ("ａｌｉｃｅ@ｃｏｎｔｏｓｏ.com", "alice@contoso.com", True),  # full-width letters
    ("alice\uff20contoso.com", "alice@contoso.com", True),  # full-width @
    ("\ufb01nn@contoso.com", "finn@contoso.com", True),  # the fi ligature
    ("jose\u0301@contoso.com", "josé@contoso.com", True),  # combining acute, composed
    ("admın@demo.example", "admin@demo.example", False),  # dotless ı stays itself
    ("ADMIN@demo.example", "admın@demo.example", False),
    ("İstanbul@contoso.com", "istanbul@contoso.com", False),  # dotted capital I keeps its dot
    ("alice@contoso.com", "alice@contoso.co", False),
]


@pytest.mark.parametrize(("one", "other", "same"), EQUIVALENCES)
def test_name_keys(one, other, same):
    assert (name_key(one) == name_key(other)) is same


def test_keys_are_stable_under_normalising_again():
    for one, other, _ in EQUIVALENCES:
        for name in (one, other):
            assert name_key(name_key(name)) == name_key(name)


PROBLEMS = [
    ("alice@contoso.com", None),
    ("Ada Lovelace", None),
    ("", "must not be blank"),
    ("   ", "must not be blank"),
    (" alice@contoso.com", "must not start or end with whitespace"),
    ("alice@contoso.com ", "must not start or end with whitespace"),
    ("alice@contoso.com\n", "must not start or end with whitespace"),
    ("ali\tce@contoso.com", "must not contain control or invisible characters"),
    ("ali\x00ce@contoso.com", "must not contain control or invisible characters"),
    ("ali\u200bce@contoso.com", "must not contain control or invisible characters"),  # zero-width space
    ("\u202eevil@contoso.com", "must not contain control or invisible characters"),  # right-to-left override
    ("ali\u2028ce@contoso.com", "must not contain control or invisible characters"),  # line separator
    ("a" * 1025, "is too long once normalised (at most 1024 characters)"),
    ("\ufdfa" * 60, "is too long once normalised (at most 1024 characters)"),  # one character, 18 once normalised
]


@pytest.mark.parametrize(("name", "problem"), PROBLEMS)
def test_user_name_problems(name, problem):
    assert user_name_problem(name) == problem


@pytest.mark.parametrize(
    ("name", "domain"),
    [
        ("Ada@Contoso.COM", "contoso.com"),
        ("ada@contoso.com.", "contoso.com"),
        ("ada@ＣＯＮＴＯＳＯ.com", "contoso.com"),
        ("first@second@contoso.com", "contoso.com"),
        ("no-domain", ""),
        ("@contoso.com", ""),
        ("", ""),
    ],
)
def test_domain_of(name, domain):
    assert domain_of(name) == domain


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("contoso.com", None),
        ("Contoso.COM.", None),
        ("sub.contoso.co.uk", None),
        ("contoso", "must be a domain name such as contoso.com"),
        ("contoso..com", "must be a domain name such as contoso.com"),
        ("-contoso.com", "must be a domain name such as contoso.com"),
        ("ada@contoso.com", "must be a domain name such as contoso.com, without '@' or spaces"),
        ("", "is blank"),
    ],
)
def test_domain_problems(typed, problem):
    assert domain_problem(domain_key(typed)) == problem
