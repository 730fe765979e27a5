"""An organisation Admin follows the Azure AD set-up steps in a real browser."""
import re

import pytest

from organisations.models import Organisation, Role
from scim_provisioning.codes import tokens
from scim_provisioning.models import ProvisioningCode, ProvisioningCodeReveal
from tests.browser.conftest import ARTEFACTS
from tests.factories import (
    TEST_PASSWORD,
    DepartmentFactory,
    OrganisationFactory,
    SectionFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TENANCY_ID = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"



def test_admin_sets_up_provisioning_and_reveals_the_code(live_server, transactional_db, browser_context, browser_page):
    context, page = browser_context, browser_page
    organisation = OrganisationFactory(name="Contoso Council")
    operations = DepartmentFactory(organisation=organisation, name="Operations")
    SectionFactory(department=operations, name="Onboarding")
    SectionFactory(department=operations, name="Service Desk")
    finance = DepartmentFactory(organisation=organisation, name="Finance")
    SectionFactory(department=finance, name="Payroll")
    admin = UserFactory(organisation=organisation, role=Role.ADMIN, username="admin@contoso.example")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The browser's own request for /favicon.ico is the one expected 404.
    page.on(
        "console",
        lambda message: errors.append(f"{message.text} @ {message.location} url={page.url}")
        if message.type == "error" and "favicon" not in (message.location or {}).get("url", "")
        else None,
    )

    # Every Content-Security-Policy violation on every page is collected.
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.cspViolations.push(e.effectiveDirective + ' ' + e.blockedURI));"
    )

    login = page.goto(f"{live_server.url}/admin/login/")
    assert "script-src 'self'" in login.headers["content-security-policy"]
    page.fill("#id_username", admin.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    # 1. Edit Organisation > Azure AD.
    page.locator("#content-main").get_by_role("link", name="Organisations", exact=True).last.click()
    page.get_by_role("link", name="Contoso Council").click()
    page.get_by_role("link", name="Azure AD", exact=True).click()
    page.wait_for_url(re.compile(r"/azure-ad/$"))
    assert page.locator("h1").inner_text() == "Azure AD"

    # 2-5. Enable Azure SSO, fill the Tenancy ID, enable provisioning, choose the defaults.
    page.get_by_label("Enable Azure SSO").check()
    page.get_by_label("Tenancy ID").fill(TENANCY_ID)
    user_creation = page.locator("fieldset", has=page.get_by_role("heading", name="User Creation Details"))
    user_creation.get_by_label("Enable Automated User Provisioning").check()
    section_select = page.get_by_label("Default Section")
    assert section_select.locator("option").all_inner_texts() == ["---------"]
    page.get_by_label("Default Department").select_option(label="Finance")
    assert section_select.locator("option").all_inner_texts() == ["---------", "Finance / Payroll"]
    page.get_by_label("Default Department").select_option(label="Operations")
    assert section_select.locator("option").all_inner_texts() == [
        "---------",
        "Operations / Onboarding",
        "Operations / Service Desk",
    ]
    section_select.select_option(label="Operations / Onboarding")

    # 6. Save: the code appears, masked.
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("#provisioning-code")
    assert "A Provisioning Authentication Code was generated" in page.locator("ul.messagelist").inner_text()
    code = ProvisioningCode.objects.get(organisation=organisation)
    masked = page.locator("#provisioning-code").input_value()
    assert masked.endswith(code.last_characters) and "•" in masked
    html_before_click = page.content()
    served_html = page.request.get(page.url).text()

    # 7. Reveal with the eye, copy it, and read the Tenant URL.
    page.get_by_role("button", name="Reveal").click()
    page.wait_for_function("() => !document.querySelector('#provisioning-code').value.includes('•')")
    revealed = page.locator("#provisioning-code").input_value()
    assert revealed not in html_before_click
    assert revealed not in served_html
    assert tokens.organisation_for_code(revealed) == Organisation.objects.get(pk=organisation.pk)
    assert ProvisioningCodeReveal.objects.filter(code=code, revealed_by=admin).exists()

    page.get_by_role("button", name="Copy Secret Token").click()
    page.wait_for_function("() => document.querySelector('.provisioning-feedback').textContent === 'Copied.'")
    assert page.evaluate("() => navigator.clipboard.readText()") == revealed

    tenant_url = page.locator("#tenant-url").input_value()
    assert tenant_url == f"{live_server.url}/api/authentication/scim"
    page.get_by_role("button", name="Copy Tenant URL").click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.endsWith('/api/authentication/scim'))")

    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "azure-ad-page.png"), full_page=True)
    assert errors == []
    # The eye and copy buttons worked under the policy, which is really enforced: an inline
    # script is blocked.
    assert page.evaluate("() => window.cspViolations") == []
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = true';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_function("() => window.cspViolations.length > 0")
    assert page.evaluate("() => window.cspViolations") == ["script-src-elem inline"]
    assert page.evaluate("() => window.inlineRan === undefined")
