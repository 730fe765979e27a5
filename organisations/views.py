"""The signed-in home page and sign-in with Microsoft."""
from __future__ import annotations

import logging

from django import forms
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from . import sso
from .access import Actor, can_use_admin
from .actions import user_sign_in
from .models import Organisation

logger = logging.getLogger(__name__)

class SignInForm(forms.Form):
    email = forms.EmailField(label="Work email address", max_length=256)


def _refused(request: HttpRequest, error: sso.SignInError, organisation: Organisation | None = None) -> HttpResponse:
    sso.signin_refusal_log(error=error, organisation=organisation)
    return render(
        request,
        "sso/refused.html",
        {"message": error.message, "organisation": (error.organisation or organisation) if error.shows_organisation else None},
        status=error.status,
    )


def _redirect_to_provider(request: HttpRequest, organisation: Organisation, login_hint: str = "") -> HttpResponse:
    try:
        url = sso.signin_begin(
            organisation=organisation,
            session=request.session,
            redirect_uri=request.build_absolute_uri(reverse("organisations:signin_callback")),
            login_hint=login_hint,
        )
    except sso.SignInError as error:
        return _refused(request, error, organisation)
    # The authorization endpoint is on another host: a plain redirect, not Django's safe one.
    return HttpResponseRedirect(url)


@never_cache
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Show who is signed in; send anyone else to the sign-in page."""
    if not request.user.is_authenticated:
        return redirect("organisations:signin")
    return render(request, "sso/home.html", {"can_administer": can_use_admin(request.user)})


@never_cache
@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    """Ask for a work email address and send the person to their organisation's tenant."""
    if request.method == "GET" and request.user.is_authenticated:
        return redirect("organisations:home")
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            organisation = sso.organisation_for_email(email=email)
        except sso.SignInError as error:
            return _refused(request, error)
        return _redirect_to_provider(request, organisation, login_hint=email)
    return render(request, "sso/signin.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def signin_organisation(request: HttpRequest, slug: str) -> HttpResponse:
    """An organisation's own sign-in link: a button that starts sign-in with Microsoft."""
    organisation = get_object_or_404(Organisation, slug=slug)
    try:
        sso.organisation_tenant(organisation=organisation)
    except sso.SignInError as error:
        return _refused(request, error)
    if request.method == "POST":
        return _redirect_to_provider(request, organisation)
    return render(request, "sso/signin_organisation.html", {"organisation": organisation})


@never_cache
@require_GET
def signin_callback(request: HttpRequest) -> HttpResponse:
    """Finish sign-in with Microsoft: verify the ID token and sign the person in."""
    try:
        user = sso.signin_complete(session=request.session, params=request.GET.dict())
    except sso.SignInError as error:
        return _refused(request, error)
    user_sign_in(acting=Actor.tenant(organisation=user.organisation), user=user)
    login(request, user, backend=sso.BACKEND)
    logger.info("Signed in with Microsoft: user=%s organisation=%s", user.pk, user.organisation.slug)
    return redirect("organisations:home")


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    """Sign out of Prompt (the Microsoft session is left to Microsoft)."""
    logout(request)
    return render(request, "sso/signed_out.html")
