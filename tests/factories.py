"""factory-boy factories, one per model."""
import factory
from factory.django import DjangoModelFactory

from organisations.access import Actor
from organisations.models import Agency, Department, Organisation, Role, Section, User

TEST_PASSWORD = "correct-horse-battery-staple"


class AgencyFactory(DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")


class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"organisation-{n}")


class DepartmentFactory(DjangoModelFactory):
    class Meta:
        model = Department

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Department {n}")


class SectionFactory(DjangoModelFactory):
    class Meta:
        model = Section

    department = factory.SubFactory(DepartmentFactory)
    name = factory.Sequence(lambda n: f"Section {n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.NONE
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805 - factory-boy hook signature
        if create:
            obj.save()


def provisioned_organisation(**kwargs) -> Organisation:
    """Return an organisation with Azure SSO and provisioning enabled and defaults chosen."""
    organisation = OrganisationFactory(**kwargs)
    department = DepartmentFactory(organisation=organisation, name="Operations")
    section = SectionFactory(department=department, name="Onboarding")
    other_department = DepartmentFactory(organisation=organisation, name="Finance")
    SectionFactory(department=other_department, name="Payroll")
    organisation.azure_sso_enabled = True
    organisation.azure_tenant_id = "6f9c1b2e-4d3a-4c8b-9e7f-1a2b3c4d5e6f"
    organisation.provisioning_enabled = True
    organisation.default_department = department
    organisation.default_section = section
    organisation.save()
    return organisation


# The actor test set-up acts as, where a test is not about who acts.
SYSTEM = Actor.system("tests")
