"""The mass-deactivation brake: holds Entra ID's deactivations when too many arrive at once."""
