"""Admin fragments for provisioning activity: the Azure AD page's panel and a user's timeline."""
from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from organisations.models import User

from ..models import ScimUser
from .summary import TIMELINE_LIMIT, user_timeline

ACTIVITY_PANEL_TEMPLATE = "admin/scim_provisioning/activity_panel.html"
USER_TIMELINE_TEMPLATE = "admin/organisations/user/provisioning_timeline.html"


def user_timeline_context(*, user: User) -> dict:
    """Return the timeline template's context for a user (two queries; one if not provisioned)."""
    scim_user = ScimUser.objects.filter(user=user).first()
    if scim_user is None:
        return {"provisioned": False, "timeline": [], "timeline_limit": TIMELINE_LIMIT}
    return {
        "provisioned": True,
        "timeline": user_timeline(organisation=user.organisation, scim_user=scim_user),
        "timeline_limit": TIMELINE_LIMIT,
    }


def render_user_timeline(*, user: User) -> SafeString:
    """Render a user's provisioning timeline for their admin change page."""
    return render_to_string(USER_TIMELINE_TEMPLATE, user_timeline_context(user=user))
