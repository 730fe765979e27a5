"""Load benchmark of the SCIM Users endpoint against a minimal reference server."""
