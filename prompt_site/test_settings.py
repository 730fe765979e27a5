"""Settings for the test suite: production settings with fixed test secrets and fast hashing."""
import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# A fixed Fernet key so encrypted codes made in one test process can be read in another.
os.environ.setdefault("PROVISIONING_CODE_KEYS", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdDE=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("CONN_MAX_AGE", "0")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests never run collectstatic: WhiteNoise serves the admin's files straight from the apps.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# Each test process has its own cache (tests clear it), whatever CACHE_URL the shell has.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Each test runs in a transaction on the default connection, which neither the activity
# connection nor a background writer could see into; tests that want them commit their data
# and override these.
SCIM_ACTIVITY_DATABASE = "default"
SCIM_ACTIVITY_QUEUED = False
# Likewise the brake's counting transaction: nested in the deactivation's, on the default connection.
PROVISIONING_BRAKE_DATABASE = "default"
