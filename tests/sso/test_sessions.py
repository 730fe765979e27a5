"""Deactivation ends every open session at once, and reactivation does not bring them back."""
from __future__ import annotations

import pytest
from django.test import Client

from organisations.actions import user_deactivate, user_reactivate, user_update
from organisations.models import Role
from tests.admin_forms import user_form_data
from tests.factories import SYSTEM, UserFactory

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

    user_deactivate(acting=SYSTEM, user=person)

    for browser in (laptop, phone):
        response = browser.get("/")
        assert response.status_code == 302
        assert response["Location"] == "/signin/"

    user_reactivate(acting=SYSTEM, user=person)
    for browser in (laptop, phone):
        assert browser.get("/")["Location"] == "/signin/"

    # Once active again, the person can sign in afresh.
    assert sign_in(laptop, email=person.username).status_code == 302
    assert laptop.get("/").status_code == 200


def test_deactivated_user_cannot_sign_in(person):
    user_deactivate(acting=SYSTEM, user=person)

    response = sign_in(Client(), email=person.username)

    assert response.status_code == 403


@pytest.mark.parametrize(("first", "then"), [(Role.ADMIN, Role.NONE), (Role.NONE, Role.ADMIN)])
def test_every_role_change_ends_every_session_and_a_change_back_does_not_revive_them(person, first, then):
    person.role = first
    person.save()
    browser = Client()
    assert sign_in(browser, email=person.username).status_code == 302
    admin_browser = Client()
    admin_browser.force_login(person)
    for client in (browser, admin_browser):
        assert client.get("/").status_code == 200

    person.role = then
    user_update(acting=SYSTEM, user=person)
    person.role = first
    user_update(acting=SYSTEM, user=person)

    for client in (browser, admin_browser):
        response = client.get("/")
        assert (response.status_code, response["Location"]) == (302, "/signin/")
    assert admin_browser.get("/admin/").status_code == 302


def test_a_demotion_in_the_admin_ends_the_admins_session(organisation, fake_idp):
    demoted = UserFactory(organisation=organisation, role=Role.ADMIN)
    their_browser = Client()
    their_browser.force_login(demoted)
    assert their_browser.get("/admin/").status_code == 200
    prompt_admin = Client()
    prompt_admin.force_login(UserFactory(organisation=organisation, role=Role.PROMPT_ADMIN))

    response = prompt_admin.post(
        f"/admin/organisations/user/{demoted.pk}/change/", user_form_data(demoted, role=Role.NONE)
    )
    assert response.status_code == 302
    prompt_admin.post(f"/admin/organisations/user/{demoted.pk}/change/", user_form_data(demoted, role=Role.ADMIN))

    # Demoted and promoted again: the session from before is gone all the same.
    assert their_browser.get("/admin/")["Location"].startswith("/admin/login/")
