"""OAuth 2.0 client credentials and workload identity federation for Entra ID's provisioning.

Entra exchanges a client secret, or a JWT its tenant signed, for a short-lived access token at
``/api/authentication/oauth2/token``; the token then authenticates SCIM requests in place of the
Provisioning Authentication Code, with exactly a code's reach.
"""
