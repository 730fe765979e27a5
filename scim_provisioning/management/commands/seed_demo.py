"""Load the demo agency, organisation, people and Azure AD settings; safe to run again."""
import uuid

from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from organisations.access import Actor
from organisations.actions import (
    structure_save,
    user_create,
    user_set_password,
    user_update,
)
from organisations.azure_ad import AzureADSettings
from organisations.models import Agency, Department, Organisation, Role, Section, User
from organisations.usernames import name_key
from scim_provisioning.codes.actions import azure_ad_settings_save

DEMO_TENANCY_ID = uuid.UUID("4f6c1d2a-9b3e-4c5d-8e7f-0a1b2c3d4e5f")
# The demo organisation's sign-in domain: nobody else may take names in it.
DEMO_DOMAIN = "demo.example"
STRUCTURE = {
    "Operations": ["Onboarding", "Service Desk"],
    "Finance": ["Payroll", "Procurement"],
    "People": ["Recruitment", "Learning"],
}
# username, password, role, first name, last name
ACCOUNTS = [
    ("prompt.admin@demo.example", "demo-prompt-admin", Role.PROMPT_ADMIN, "Pat", "Prompt"),
    ("agency.admin@demo.example", "demo-agency-admin", Role.AGENCY_ADMIN, "Alex", "Agency"),
    ("admin@demo.example", "demo-admin", Role.ADMIN, "Ari", "Admin"),
    ("staff@demo.example", "demo-staff", Role.NONE, "Sam", "Staff"),
]


class Command(BaseCommand):
    help = "Create or refresh the demo data and print how to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the site is served.")

    @transaction.atomic
    def handle(self, *args, base_url, **options):
        acting = Actor.system("command seed_demo")
        agency = _ensure(acting, Agency, slug="demo-agency", name="Demo Agency")
        organisation = _ensure(acting, Organisation, slug="demo", name="Demo Organisation", agency=agency)
        sections = {}
        for department_name, section_names in STRUCTURE.items():
            department = _ensure(acting, Department, organisation=organisation, name=department_name)
            for section_name in section_names:
                sections[department_name, section_name] = _ensure(
                    acting, Section, department=department, name=section_name
                )
        default_section = sections["Operations", "Onboarding"]

        accounts = []
        for username, password, role, first_name, last_name in ACCOUNTS:
            user = User.objects.filter(username_key=name_key(username)).first()
            creating = user is None
            user = user or User(username=username)
            user.email = username
            user.first_name, user.last_name = first_name, last_name
            user.role = role
            user.is_active = True
            user.organisation = organisation
            user.department = default_section.department
            user.section = default_section
            user.agency = agency if role == Role.AGENCY_ADMIN else None
            if creating:
                user.set_password(password)
                user_create(acting=acting, user=user)
            else:
                user_update(acting=acting, user=user)
                if not user.check_password(password):
                    user_set_password(acting=acting, user=user, password=password)
            accounts.append((username, password, role))

        # Defaults an administrator has since chosen are kept, and so are their domains.
        keep = organisation.default_department_id and organisation.default_section_id
        department = organisation.default_department if keep else default_section.department
        section = organisation.default_section if keep else default_section
        current = AzureADSettings.of(organisation)
        _, issued_code = azure_ad_settings_save(
            acting=acting,
            organisation=organisation,
            settings=AzureADSettings(
                azure_sso_enabled=True,
                azure_tenant_id=organisation.azure_tenant_id or DEMO_TENANCY_ID,
                provisioning_enabled=True,
                default_department=department,
                default_section=section,
                sign_in_domains=tuple(sorted({*current.sign_in_domains, DEMO_DOMAIN})),
            ),
        )

        base_url = base_url.rstrip("/")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {organisation} ({organisation.slug}) in {agency}."))
        if issued_code:
            self.stdout.write(f"Issued a Provisioning Authentication Code ending …{issued_code.last_characters}.")
        self.stdout.write(f"Admin: {base_url}{reverse('admin:index')}")
        self.stdout.write(
            f"Azure AD page: {base_url}{reverse('admin:organisations_organisation_azure_ad', args=[organisation.pk])}"
        )
        self.stdout.write("Sign in with:")
        for username, password, role in accounts:
            label = Role(role).label if role else "no admin role (refused by the admin)"
            self.stdout.write(f"  {username:<28} {password:<20} {label}")


def _ensure(acting: Actor, model, **fields):
    """Return the demo object with these fields, creating it through its action if it is missing."""
    lookup = {name: value for name, value in fields.items() if name in ("slug", "name", "organisation", "department")}
    if model is Organisation or model is Agency:
        lookup = {"slug": fields["slug"]}
    found = model.objects.filter(**lookup).first()
    if found is not None:
        return found
    obj = model(**fields)
    structure_save(acting=acting, obj=obj)
    return obj
