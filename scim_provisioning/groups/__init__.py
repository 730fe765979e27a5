"""SCIM Groups: Entra ID's groups of an organisation's people, which placement rules can use."""
