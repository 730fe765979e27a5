"""Sign-in domains: an email domain claimed by one organisation, where nobody else may take names.

Who may claim what:

* a Prompt Admin claims any domain, and reassigns one another organisation holds;
* an Agency Admin claims domains for their agency's organisations, reassigning one only
  between those organisations;
* an organisation's Admin claims a domain no other organisation holds and none of whose users
  belong to another organisation.

Once claimed, no other organisation can create a person, or rename anyone, to a sign-in name or
work email in the domain, and ``/signin/`` sends unknown addresses of the domain to its owner.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from django.db.models import Q

from .access import Actor, Scope, reach
from .models import Organisation, SignInDomain, User
from .usernames import domain_key, domain_of, domain_problem

_SEPARATORS = re.compile(r"[\s,;]+")


def parse_domains(text: str) -> tuple[list[str], list[str]]:
    """Return the domain keys listed in ``text`` (one per line, or comma-separated) and the errors."""
    domains: list[str] = []
    errors: list[str] = []
    for raw in _SEPARATORS.split(text or ""):
        if not raw:
            continue
        key = domain_key(raw)
        problem = domain_problem(key)
        if problem:
            errors.append(f"{raw[:100]!r} {problem}.")
        elif key not in domains:
            domains.append(key)
    return domains, errors


def domain_claim_errors(*, acting: Actor, organisation: Organisation, domains: Iterable[str]) -> list[str]:
    """Return why ``acting`` may not make ``domains`` the organisation's claimed domains."""
    actor_reach = reach(acting)
    wanted = set(domains)
    held = dict(SignInDomain.objects.filter(domain__in=wanted).values_list("domain", "organisation_id"))
    taken_elsewhere = {domain for domain, owner in held.items() if owner != organisation.pk}
    errors = []
    if taken_elsewhere and not actor_reach.is_everything:
        owners = Organisation.objects.filter(pk__in={held[d] for d in taken_elsewhere}).in_bulk()
        for domain in sorted(taken_elsewhere):
            owner = owners[held[domain]]
            if actor_reach.scope is Scope.AGENCY and actor_reach.includes_organisation(owner):
                continue  # between two organisations of the Agency Admin's own agency
            errors.append(f"{domain} is already claimed by another organisation.")
    new = wanted - set(held)
    if new and not actor_reach.is_everything:
        for domain in sorted(_domains_with_outside_users(new, actor_reach, organisation)):
            errors.append(f"{domain} has users of another organisation, so only a Prompt Admin can claim it.")
    return errors


def _domains_with_outside_users(domains: set[str], actor_reach, organisation: Organisation) -> set[str]:
    # Names are matched by their keys' endings: claims are rare, and the check must be exact.
    in_domain = Q()
    for domain in domains:
        in_domain |= Q(username_key__endswith=f"@{domain}") | Q(email_key__endswith=f"@{domain}")
    outside = User.objects.filter(in_domain).exclude(organisation=organisation)
    if actor_reach.scope is Scope.AGENCY:
        outside = outside.exclude(organisation__in=actor_reach.organisations())
    found = set()
    for username, email in outside.values_list("username", "email").iterator():
        found |= {domain_of(username), domain_of(email)} & domains
    return found


def claimed_domain_conflict(*, organisation_id: int | None, names: Iterable[str]) -> str | None:
    """Return a domain of ``names`` that an organisation other than this one has claimed, if any."""
    domains = {domain_of(name) for name in names if name} - {""}
    if not domains:
        return None
    return (
        SignInDomain.objects.filter(domain__in=domains)
        .exclude(organisation_id=organisation_id)
        .values_list("domain", flat=True)
        .first()
    )


def domain_owner(*, domain: str) -> Organisation | None:
    """Return the organisation that claimed ``domain`` (a key), if any."""
    claim = SignInDomain.objects.select_related("organisation").filter(domain=domain).first()
    return claim.organisation if claim else None
