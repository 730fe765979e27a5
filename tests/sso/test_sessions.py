"""Deactivation ends every open session at once, and reactivation does not bring them back."""
from __future__ import annotations

import pytest
from django.test import Client

from organisations.services import user_deactivate, user_reactivate
from tests.factories import UserFactory

from .fixtures import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(organisation, fake_idp):
    user = UserFactory(organisation=organisation, username="ada.lovelace@contoso.example")
    fake_idp.identity = {"preferred_username": user.username}
    return user


def test_deactivation_ends_every_session_and_reactivation_does_not_revive_them(person):
    laptop, phone = Client(), Client()
    for browser in (laptop, phone):
        assert sign_in(browser, email=person.username).status_code == 302
        assert browser.get("/").status_code == 200

    user_deactivate(user=person)

    for browser in (laptop, phone):
        response = browser.get("/")
        assert response.status_code == 302
        assert response["Location"] == "/signin/"

    user_reactivate(user=person)
    for browser in (laptop, phone):
        assert browser.get("/")["Location"] == "/signin/"

    # Once active again, the person can sign in afresh.
    assert sign_in(laptop, email=person.username).status_code == 302
    assert laptop.get("/").status_code == 200


def test_deactivated_user_cannot_sign_in(person):
    user_deactivate(user=person)

    response = sign_in(Client(), email=person.username)

    assert response.status_code == 403
