"""Health, readiness and metrics endpoints for load balancers and Prometheus.

``/healthz`` says the process answers; ``/readyz`` that it can reach the database and the cache
(503 otherwise). Neither needs authentication and neither reveals anything but its status.
``/metrics`` is Prometheus's text format, open only to ``METRICS_TOKEN`` (as a bearer token) or
to addresses in ``METRICS_ALLOWED_NETWORKS``; with neither set it does not exist (404).
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from scim_provisioning.api.throttling import client_address

logger = logging.getLogger(__name__)
READINESS_KEY = "readyz"


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """The process can serve: the database and the cache answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        cache.set(READINESS_KEY, 1, timeout=5)
        if cache.get(READINESS_KEY) != 1:
            raise RuntimeError("the cache did not keep a value")
    except Exception:
        logger.exception("Readiness check failed")
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    presented = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
        return True
    networks = settings.METRICS_ALLOWED_NETWORKS
    if networks:
        try:
            address = ipaddress.ip_address(client_address(request))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(network, strict=False) for network in networks)
    return False


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for the token or the allowed networks only."""
    if not (settings.METRICS_TOKEN or settings.METRICS_ALLOWED_NETWORKS) or not _metrics_allowed(request):
        raise Http404("No such page.")
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
