"""Pure SCIM 2.0 protocol rules (RFC 7643, RFC 7644): no Django, no I/O."""
