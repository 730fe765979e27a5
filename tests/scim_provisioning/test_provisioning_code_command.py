"""`manage.py provisioning_code`: rotate, revoke and status, with clear failures."""
import logging
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line

from scim_provisioning.codes import actions as services
from scim_provisioning.codes import tokens
from scim_provisioning.models import ProvisioningCode
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("provisioning_code", *args, stdout=out)
    return out.getvalue()


def exit_code(capsys, *args) -> tuple[int, str]:
    """Run the command as `manage.py` would (no database needed), returning exit status and stderr."""
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "provisioning_code", *args])
    return exited.value.code, capsys.readouterr().err


def test_rotate_prints_the_new_code_alone_on_the_last_line(organisation, provisioning_code):
    output = run("rotate", "--organisation", organisation.slug)
    lines = output.splitlines()
    new_plaintext = lines[-1]
    assert tokens.organisation_for_code(new_plaintext) == organisation
    assert new_plaintext.startswith(tokens.CODE_PREFIX) and " " not in new_plaintext
    assert lines[:-1] == [
        f"New code …{new_plaintext[-4:]} for {organisation.slug}. Earlier codes keep working for the grace period."
    ]
    # The previous code is in its grace period, not revoked.
    assert tokens.organisation_for_code(provisioning_code) == organisation
    assert ProvisioningCode.objects.get(digest=tokens.code_digest(provisioning_code)).expires_at is not None


def test_rotate_revoke_previous_ends_earlier_codes_now(organisation, provisioning_code):
    new_plaintext = run("rotate", "--organisation", organisation.slug, "--revoke-previous").splitlines()[-1]
    assert tokens.organisation_for_code(provisioning_code) is None
    assert tokens.organisation_for_code(new_plaintext) == organisation


def test_revoke_ends_every_code(organisation, provisioning_code):
    newer = run("rotate", "--organisation", organisation.slug).splitlines()[-1]
    assert run("revoke", "--organisation", organisation.slug) == f"Revoked 2 code(s) of {organisation.slug}.\n"
    assert tokens.organisation_for_code(provisioning_code) is None
    assert tokens.organisation_for_code(newer) is None


def test_status_lists_organisations_and_their_codes(organisation, provisioning_code):
    quiet = OrganisationFactory(slug="zz-quiet")
    code = ProvisioningCode.objects.get(organisation=organisation)
    services.provisioning_code_mark_used(code=code)
    output = run("status")
    assert output == (
        f"{organisation.slug} (provisioning on)\n"
        f"  …{provisioning_code[-4:]}  created 0\xa0minutes ago, last used 0\xa0minutes ago\n"
        f"{quiet.slug} (provisioning off)\n"
        "  no active code\n"
    )
    assert provisioning_code not in output


def failure(*args) -> CommandError:
    """Run the command and return the CommandError it failed with.

    ``manage.py`` turns a CommandError into ``sys.exit(error.returncode)``; running it through
    ``execute_from_command_line`` here would also close the test's database connection.
    """
    with pytest.raises(CommandError) as failed:
        run(*args)
    return failed.value


@pytest.mark.parametrize("action", [["rotate"], ["revoke"]])
def test_unknown_organisation_exits_non_zero(db, action):
    error = failure(*action, "--organisation", "no-such-slug")
    assert error.returncode == 1
    assert str(error) == "No organisation has the slug 'no-such-slug'."


def test_rotate_without_provisioning_exits_non_zero(db):
    organisation = OrganisationFactory(slug="not-yet")
    error = failure("rotate", "--organisation", organisation.slug)
    assert error.returncode == 1
    assert str(error) == "Automated User Provisioning is not enabled for not-yet: enable it on the Azure AD page first."
    assert not ProvisioningCode.objects.exists()


def test_missing_action_exits_non_zero(capsys):
    code, err = exit_code(capsys)
    assert code == 2
    assert "the following arguments are required" in err


def test_commands_never_log_the_code(organisation, caplog):
    caplog.set_level(logging.DEBUG)
    plaintexts = [
        run("rotate", "--organisation", organisation.slug).splitlines()[-1],
        run("rotate", "--organisation", organisation.slug, "--revoke-previous").splitlines()[-1],
    ]
    run("status")
    run("revoke", "--organisation", organisation.slug)
    assert caplog.records
    for plaintext in plaintexts:
        assert plaintext not in caplog.text


def test_manage_py_exit_status_for_unknown_organisation(tmp_path):
    """The real process: a fresh database, an unknown slug, exit status 1 and the message on stderr."""
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prompt_site.test_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=root, check=True)
    for args in (["rotate", "--organisation", "nope"], ["revoke", "--organisation", "nope"]):
        result = subprocess.run(
            [*manage, "provisioning_code", *args], env=env, cwd=root, capture_output=True, text=True
        )
        assert result.returncode == 1
        assert result.stderr == "CommandError: No organisation has the slug 'nope'.\n"
        assert result.stdout == ""
