from django.urls import path

from . import views

urlpatterns = [
    path("api/authentication/scim/Users", views.users),
    path("api/authentication/scim/Users/<uuid:scim_id>", views.user),
    path("api/authentication/scim/Groups/<uuid:scim_id>", views.group),
]
