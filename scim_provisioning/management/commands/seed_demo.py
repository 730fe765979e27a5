"""Load the demo agency, organisation, people and Azure AD settings; safe to run again."""
import uuid

from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from organisations.azure_ad import AzureADSettings
from organisations.models import Agency, Department, Organisation, Role, Section, User
from organisations.services import organisation_update_azure_ad

DEMO_TENANCY_ID = uuid.UUID("4f6c1d2a-9b3e-4c5d-8e7f-0a1b2c3d4e5f")
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
        agency, _ = Agency.objects.get_or_create(slug="demo-agency", defaults={"name": "Demo Agency"})
        organisation, _ = Organisation.objects.get_or_create(
            slug="demo", defaults={"name": "Demo Organisation", "agency": agency}
        )
        sections = {}
        for department_name, section_names in STRUCTURE.items():
            department, _ = Department.objects.get_or_create(organisation=organisation, name=department_name)
            for section_name in section_names:
                sections[department_name, section_name], _ = Section.objects.get_or_create(
                    department=department, name=section_name
                )
        default_section = sections["Operations", "Onboarding"]

        accounts = []
        for username, password, role, first_name, last_name in ACCOUNTS:
            user, _ = User.objects.get_or_create(username=username)
            user.email = username
            user.first_name, user.last_name = first_name, last_name
            user.role = role
            user.is_active = True
            user.organisation = organisation
            user.department = default_section.department
            user.section = default_section
            user.agency = agency if role == Role.AGENCY_ADMIN else None
            if not user.check_password(password):
                user.set_password(password)
            user.save()
            accounts.append((username, password, role))

        prompt_admin = User.objects.get(username=ACCOUNTS[0][0])
        # Defaults an administrator has since chosen are kept.
        keep = organisation.default_department_id and organisation.default_section_id
        department = organisation.default_department if keep else default_section.department
        section = organisation.default_section if keep else default_section
        result = organisation_update_azure_ad(
            organisation=organisation,
            settings=AzureADSettings(
                azure_sso_enabled=True,
                azure_tenant_id=organisation.azure_tenant_id or DEMO_TENANCY_ID,
                provisioning_enabled=True,
                default_department=department,
                default_section=section,
            ),
            updated_by=prompt_admin,
        )

        base_url = base_url.rstrip("/")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {organisation} ({organisation.slug}) in {agency}."))
        if result.issued_code:
            self.stdout.write(f"Issued a Provisioning Authentication Code ending …{result.issued_code.last_characters}.")
        self.stdout.write(f"Admin: {base_url}{reverse('admin:index')}")
        self.stdout.write(
            f"Azure AD page: {base_url}{reverse('admin:organisations_organisation_azure_ad', args=[organisation.pk])}"
        )
        self.stdout.write("Sign in with:")
        for username, password, role in accounts:
            label = Role(role).label if role else "no admin role (refused by the admin)"
            self.stdout.write(f"  {username:<28} {password:<20} {label}")
