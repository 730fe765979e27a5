from tests.sso.fixtures import fake_idp, fake_idp_server  # noqa: F401 - fixtures for this package
