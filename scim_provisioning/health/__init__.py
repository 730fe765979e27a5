"""Provisioning health: alerts when something goes wrong, and the self-check of the connection."""
