"""Routes for people: the home page and sign-in with Microsoft."""
from django.urls import path

from . import views

app_name = "organisations"

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.signin, name="signin"),
    # Two segments, so no organisation slug can shadow the redirect URI registered in Entra ID.
    path("signin/microsoft/callback/", views.signin_callback, name="signin_callback"),
    path("signin/<slug:slug>/", views.signin_organisation, name="signin_organisation"),
    path("signout/", views.signout, name="signout"),
]
