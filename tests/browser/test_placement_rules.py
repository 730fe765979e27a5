"""An organisation Admin writes placement rules from the report, in a real browser."""
import pytest

from organisations.models import Role, User
from scim_provisioning.codes import actions as code_actions
from scim_provisioning.models import PlacementRule
from tests.browser.conftest import sign_in, watch
from tests.conftest import ScimClient
from tests.factories import SYSTEM, TEST_PASSWORD, DepartmentFactory, SectionFactory, UserFactory, provisioned_organisation
from tests.scim_api.conftest import BASE, ENTERPRISE, USERS, entra_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def provision(organisation):
    """Entra ID creates two people and a group, as a provisioning cycle would."""
    _, code = code_actions.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    scim = ScimClient(code)
    ids = {}
    for name, department in (("ann", "Cardiology"), ("ben", "Radiology")):
        body = entra_user(f"{name}@contoso.com")
        body[ENTERPRISE] = {"department": department}
        ids[name] = scim.post(USERS, body).json()["id"]
    assert scim.post(f"{BASE}/Groups", {"displayName": "Nurses-Ward5", "members": [{"value": ids["ann"]}]}).status_code == 201


def where(user_name):
    user = User.objects.select_related("department", "section").get(username=user_name)
    return user.department.name, user.section.name


def test_rules_from_the_report_with_a_bad_section_first(live_server, transactional_db, browser_page):
    page = browser_page
    organisation = provisioned_organisation(name="Contoso Health")
    ward5 = DepartmentFactory(organisation=organisation, name="Ward 5")
    SectionFactory(department=ward5, name="Nights")
    ward6 = DepartmentFactory(organisation=organisation, name="Ward 6")
    SectionFactory(department=ward6, name="Days")
    provision(organisation)
    admin = UserFactory(organisation=organisation, role=Role.ADMIN, username="admin@contoso.example")
    errors = watch(page)
    sign_in(page, live_server.url, admin, TEST_PASSWORD)
    page.goto(f"{live_server.url}/admin/organisations/organisation/{organisation.pk}/azure-ad/")

    # The rules come right after the defaults, under User Creation Details.
    headings = page.locator("#organisation_azure_ad_form h2").all_inner_texts()
    assert headings.index("Placement rules") == headings.index("User Creation Details") + 1
    report = page.locator("#placement-report")
    assert "Default Department and Section (no rule matches)" in report.inner_text()
    assert page.locator("#uncovered-departments li").all_inner_texts() == [
        "Cardiology (1 person) Add rule", "Radiology (1 person) Add rule",
    ]

    # One click on the group's Add rule fills a row in; the Admin picks where it places people.
    page.locator("#uncovered-groups li", has_text="Nurses-Ward5").get_by_role("link", name="Add rule").click()
    page.wait_for_load_state()
    row = page.locator("tr.placement-rule").first
    assert row.locator("select[name=rules-0-kind]").input_value() == "group"
    assert row.locator("select[name=rules-0-group] option:checked").inner_text() == "Nurses-Ward5"
    assert row.locator("input[name=rules-0-department_value]").is_hidden()
    row.locator("select[name=rules-0-department]").select_option(label="Ward 5")
    # A section of another department: sections are grouped, not hidden, so this can be chosen.
    row.locator("select[name=rules-0-section]").select_option(label="Days")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()

    assert page.locator(".errornote").inner_text() == "Please correct the errors below."
    assert page.locator("tr.placement-rule .field-section .errorlist").first.inner_text() == (
        "Choose a section of the Ward 5 department."
    )
    assert not PlacementRule.objects.exists()
    assert where("ann@contoso.com") == ("Operations", "Onboarding")

    row = page.locator("tr.placement-rule").first
    row.locator("select[name=rules-0-section]").select_option(label="Nights")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    assert "1 person was placed again." in page.locator("ul.messagelist").inner_text()
    assert where("ann@contoso.com") == ("Ward 5", "Nights")
    counts = page.locator("#placement-report tr.rule-count").all_inner_texts()
    assert counts == ["Rule 1: member of Nurses-Ward5 → Ward 5 / Nights\t1"]

    # A second rule, on a new row, for a department value typed in another case.
    page.get_by_role("button", name="Add another rule").click()
    new_row = page.locator("tr.placement-rule").last
    new_row.locator("select[name$=-kind]").select_option("department")
    assert new_row.locator("select[name$=-group]").is_hidden()
    new_row.locator("input[name$=-department_value]").fill("  radiology ")
    new_row.locator("select[name$=-department]").select_option(label="Ward 6")
    new_row.locator("select[name$=-section]").select_option(label="Days")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    assert "1 person was placed again." in page.locator("ul.messagelist").inner_text()
    assert where("ben@contoso.com") == ("Ward 6", "Days")
    assert [rule.condition for rule in PlacementRule.objects.order_by("position")] == [
        "member of Nurses-Ward5", "Entra department is radiology",
    ]
    assert page.locator("#uncovered-departments li").all_inner_texts() == ["Cardiology (1 person) Add rule"]
    assert errors == []
    assert page.evaluate("window.cspViolations") == []
