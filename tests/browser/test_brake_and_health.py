"""An organisation Admin meets the brake's banner, releases it, and checks the connection with a revoked code, in a real browser."""
import pytest
import requests

from organisations.models import Role
from scim_provisioning.codes import actions as code_actions
from scim_provisioning.models import HeldDeactivation
from tests.activity.factories import scim_users_bulk
from tests.brake.conftest import brake_with
from tests.browser.conftest import ARTEFACTS, sign_in, watch
from tests.factories import SYSTEM, TEST_PASSWORD, UserFactory, provisioned_organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def deactivate(base: str, code: str, scim_id) -> int:
    return requests.patch(
        f"{base}/api/authentication/scim/Users/{scim_id}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
        headers={"Authorization": f"Bearer {code}", "Content-Type": "application/scim+json"},
        timeout=10,
    ).status_code


def test_banner_release_and_a_connection_check_with_a_revoked_code(live_server, browser_page):
    page = browser_page
    organisation = provisioned_organisation(name="Contoso Council")
    admin = UserFactory(organisation=organisation, role=Role.ADMIN, username="admin@contoso.example")
    _, code = code_actions.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    people = scim_users_bulk(organisation=organisation, count=6)
    brake_with(organisation, max_people=2)
    assert [deactivate(live_server.url, code, person.pk) for person in people[:5]] == [200, 200, 429, 429, 429]

    errors = watch(page)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))

    sign_in(page, live_server.url, admin, TEST_PASSWORD)
    azure_ad = f"{live_server.url}/admin/organisations/organisation/{organisation.pk}/azure-ad/"
    page.goto(azure_ad)

    # The banner, above everything else on the page.
    banner = page.locator("#brake-banner")
    assert banner.is_visible()
    assert "Entra ID tried to deactivate 5 people in 1 minute. Deactivations are on hold." in banner.inner_text()
    page.screenshot(path=str(ARTEFACTS / "brake-banner.png"), full_page=False)

    # Review lists whom the held deactivations concern.
    banner.get_by_role("link", name="Review").click()
    rows = page.locator("#held-deactivations tbody tr")
    assert rows.count() == 3
    assert {rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)} == {p.user.username for p in people[2:5]}

    # Release, after the confirmation: the banner goes, and Entra's retries go through.
    page.locator("#brake-banner").get_by_role("button", name="Release").click()
    page.locator(".messagelist", has_text="Released: 3 held deactivations go through").wait_for()
    assert dialogs and dialogs[-1].startswith("Release the held deactivations?")
    assert page.url == azure_ad
    assert page.locator("#brake-banner").count() == 0
    assert set(HeldDeactivation.objects.values_list("status", flat=True)) == {"released"}
    assert [deactivate(live_server.url, code, person.pk) for person in people[2:5]] == [200, 200, 200]

    # The code is revoked behind the admin's back: the self-check says so, step by step.
    code_actions.provisioning_code_revoke_all(acting=SYSTEM, organisation=organisation)
    page.get_by_role("button", name="Check the connection").click()
    result = page.locator("#check-result")
    result.wait_for()
    assert "Some checks failed" in result.inner_text()
    failed = page.locator("#check-steps li.step-failed")
    assert failed.count() >= 2
    assert "revoked" in failed.first.inner_text()
    assert "invalid credentials" in page.locator("#check-steps").inner_text()
    page.locator("#connection-check").screenshot(path=str(ARTEFACTS / "connection-check-revoked.png"))

    assert page.evaluate("window.cspViolations") == []
    assert errors == []
