"""Load benchmark of the SCIM Users endpoint against a floor: a minimal Django project of its own."""
