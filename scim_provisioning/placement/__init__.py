"""Placement: which Department and Section Entra ID's groups and attributes put each person in."""
