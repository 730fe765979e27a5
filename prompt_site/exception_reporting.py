"""What error reports (admin emails, the technical 500 page) must never show."""
import re

from django.views.debug import SafeExceptionReporterFilter


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding URLs that may carry credentials.

    Django already hides every setting and request header whose name contains ``AUTH``
    (``HTTP_AUTHORIZATION``: the Provisioning Authentication Code), ``KEY`` or ``SECRET``; a
    cache ``LOCATION`` such as ``redis://:password@host`` and the ``DATABASE_URL`` and
    ``CACHE_URL`` variables the development server copies into ``request.META`` are added.
    """

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|LOCATION|DATABASE_URL|CACHE_URL", flags=re.IGNORECASE
    )
