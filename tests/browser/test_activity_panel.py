"""A Prompt Admin looks at the provisioning activity panel after Entra-shaped SCIM requests."""
import json
import re
import urllib.error
import urllib.request

import pytest

from organisations.models import Role
from scim_provisioning.codes import actions as scim_services
from tests.browser.conftest import ARTEFACTS
from tests.factories import SYSTEM, TEST_PASSWORD, UserFactory, provisioned_organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def scim(base_url: str, code: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """Send one request the way Entra ID does, over real HTTP; return the status and JSON body."""
    request = urllib.request.Request(
        f"{base_url}/api/authentication/scim{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {code}", "Content-Type": "application/scim+json; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")



def test_panel_shows_entras_requests(live_server, transactional_db, browser_page):
    page = browser_page
    organisation = provisioned_organisation(name="Contoso Council")
    _, code = scim_services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    admin = UserFactory(organisation=None, role=Role.PROMPT_ADMIN, username="prompt.admin@example.com")

    # Test Connection, lookup-then-create, an update, a refused change and a deactivation.
    base = live_server.url
    assert scim(base, code, "GET", '/Users?filter=userName+eq+%22d5bb6f3c-8b0e-4a34-a3c5-6fd9d43bd0a7%22')[0] == 200
    assert scim(base, code, "GET", "/Users?filter=userName+eq+%22ada%40contoso.example%22")[0] == 200
    status, created = scim(base, code, "POST", "/Users", {
        "schemas": [USER_SCHEMA], "externalId": "ada", "userName": "ada@contoso.example", "active": True,
        "displayName": "Ada Lovelace", "title": "Analyst", "name": {"givenName": "Ada", "familyName": "Lovelace"},
    })
    assert status == 201, created
    user_path = f"/Users/{created['id']}"
    assert scim(base, code, "PATCH", user_path, {
        "schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "title", "value": "Lead Analyst"}],
    })[0] == 200
    assert scim(base, code, "PATCH", user_path, {
        "schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "maybe"}],
    })[0] == 400
    assert scim(base, code, "PATCH", user_path, {
        "schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    })[0] == 200

    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    page.goto(f"{base}/admin/organisations/organisation/{organisation.pk}/change/")
    page.get_by_role("link", name="Azure AD", exact=True).click()
    page.wait_for_url(re.compile(r"/azure-ad/$"))

    panel = page.locator("#provisioning-activity")
    panel.scroll_into_view_if_needed()
    assert panel.get_by_role("heading", name="Provisioning activity").is_visible()
    last_request = panel.locator("#provisioning-activity-last-request").inner_text()
    assert re.search(r"Last request from Entra ID:\s+\S.*\(\d+\xa0minutes? ago\)", last_request), last_request
    assert page.locator("#provisioning-activity-warning").count() == 0

    counts = panel.locator("#provisioning-activity-counts")
    rows = {
        row.locator("th").inner_text(): [cell.inner_text() for cell in row.locator("td").all()]
        for row in counts.locator("tbody tr").all()
    }
    assert rows == {
        "Created": ["1", "1"],
        "Updated": ["1", "1"],
        "Deactivated": ["1", "1"],
        "Reactivated": ["0", "0"],
        "Deleted": ["0", "0"],
        "Failed requests": ["1", "1"],
        "All requests": ["6", "6"],
    }

    chart = panel.get_by_role("img", name="Requests per hour over the last 7 days")
    assert chart.is_visible()
    assert chart.locator("rect.bar-ok").count() >= 1 and chart.locator("rect.bar-failed").count() >= 1
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 20

    failure = panel.locator("#provisioning-activity-failures tbody tr")
    assert failure.count() == 1
    cells = [cell.inner_text().strip() for cell in failure.locator("td").all()]
    assert cells[1:] == [
        f"PATCH {user_path}", "400", "invalidValue", "active must be a boolean (true or false), not 'maybe'.",
        "ada@contoso.example",
    ]

    ARTEFACTS.mkdir(exist_ok=True)
    panel.screenshot(path=str(ARTEFACTS / "activity-panel.png"))
    assert (ARTEFACTS / "activity-panel.png").stat().st_size > 5000

    # The failure links to the person, whose page has the timeline of what Entra ID changed.
    failure.get_by_role("link", name="ada@contoso.example").click()
    page.wait_for_url(re.compile(r"/admin/organisations/user/\d+/change/$"))
    timeline = page.locator("#provisioning-timeline")
    entries = [row.inner_text() for row in timeline.locator("tr.timeline-entry").all()]
    assert [entry.split("\t")[1] for entry in entries] == ["Deactivated", "Updated", "Created"]
    assert re.search(r"title:\s*Analyst\s*→\s*changed to\s*Lead Analyst", entries[1])
