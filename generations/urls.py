from django.contrib.auth import views as auth_views
from django.urls import path, register_converter, reverse_lazy
from django.views.i18n import set_language

from generations.access import public_view, signed_in_view
from generations.views import (
    accounts,
    api_settings,
    credentials,
    exports,
    gallery,
    health,
    hooks,
    notifications,
    prompts,
    sharing,
    studio,
    teams,
)


class IdConverter:
    """A row id in a URL: at most 18 digits. Django's `int` takes any length, and a
    20-digit id reached the database as an integer it cannot hold (a 500, not a 404)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

TEAM = "t/<slug:slug>/"

urlpatterns = [
    path("", teams.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("i18n/setlang/", public_view(set_language), name="set_language"),
    # Accounts
    path("accounts/signup/", accounts.sign_up, name="signup"),
    path("accounts/login/", accounts.sign_in, name="login"),
    path("accounts/logout/", public_view(auth_views.LogoutView.as_view()), name="logout"),
    path(
        "accounts/password/change/",
        signed_in_view(
            auth_views.PasswordChangeView.as_view(
                template_name="accounts/password_change.html",
                success_url=reverse_lazy("password_change_done"),
            )
        ),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        signed_in_view(
            auth_views.PasswordChangeDoneView.as_view(
                template_name="accounts/password_change_done.html"
            )
        ),
        name="password_change_done",
    ),
    path("accounts/password/reset/", accounts.password_reset, name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        public_view(
            auth_views.PasswordResetDoneView.as_view(
                template_name="accounts/password_reset_done.html"
            )
        ),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        public_view(
            auth_views.PasswordResetConfirmView.as_view(
                template_name="accounts/password_reset_confirm.html"
            )
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        public_view(
            auth_views.PasswordResetCompleteView.as_view(
                template_name="accounts/password_reset_complete.html"
            )
        ),
        name="password_reset_complete",
    ),
    # Teams
    path("teams/", teams.team_list, name="team-list"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/email", notifications.notification_email, name="notification-email"),
    path("invite/<str:token>/", teams.invitation_accept, name="invitation-accept"),
    path("m/<str:token>/", sharing.signed_media, name="media"),
    path("s/<str:key>/", sharing.public_share, name="public-share"),
    path("s/<str:key>/videos.zip", exports.public_share_zip, name="public-share-zip"),
    path(
        "s/<str:key>/chain/<id:generation_id>.mp4",
        sharing.public_chain_mp4,
        name="public-chain-mp4",
    ),
    path("hooks/ark/<str:callback>/", hooks.ark_callback, name="ark-callback"),
    path("s/<str:key>/<id:generation_id>/<str:kind>", sharing.public_media, name="public-media"),
    # The studio
    path(TEAM, studio.studio, name="studio"),
    path(TEAM + "estimate", studio.estimate, name="estimate"),
    path(TEAM + "jobs/status", studio.jobs_status, name="jobs-status"),
    path(TEAM + "jobs/<id:generation_id>/", studio.job_detail, name="job-detail"),
    path(TEAM + "jobs/<id:generation_id>/cancel", studio.job_cancel, name="job-cancel"),
    path(TEAM + "jobs/<id:generation_id>/retry", studio.job_retry, name="job-retry"),
    path(
        TEAM + "jobs/<id:generation_id>/regenerate",
        studio.job_regenerate,
        name="job-regenerate",
    ),
    path(TEAM + "jobs/<id:generation_id>/final", studio.job_final, name="job-final"),
    path(TEAM + "jobs/<id:generation_id>/chain", studio.job_chain, name="job-chain"),
    path(TEAM + "jobs/<id:generation_id>/chain.mp4", studio.job_chain_mp4, name="job-chain-mp4"),
    path(TEAM + "jobs/<id:generation_id>/favourite", gallery.job_favourite, name="job-favourite"),
    path(TEAM + "jobs/<id:generation_id>/keep", studio.job_keep, name="job-keep"),
    path(TEAM + "jobs/<id:generation_id>/card", studio.job_card, name="job-card"),
    path(TEAM + "jobs/<id:generation_id>/tags", gallery.job_tags, name="job-tags"),
    path(TEAM + "jobs/<id:generation_id>/delete", gallery.job_delete, name="job-delete"),
    path(TEAM + "jobs/<id:generation_id>/<str:kind>", studio.job_media, name="job-media"),
    path(TEAM + "gallery/", gallery.gallery, name="gallery"),
    path(TEAM + "templates/", prompts.template_list, name="prompt-templates"),
    path(TEAM + "templates/new", prompts.template_create, name="prompt-template-create"),
    path(
        TEAM + "templates/<id:template_id>/delete",
        prompts.template_delete,
        name="prompt-template-delete",
    ),
    path(TEAM + "gallery/export.csv", exports.gallery_csv, name="gallery-csv"),
    path(TEAM + "gallery/videos.zip", exports.gallery_zip, name="gallery-zip"),
    path(TEAM + "team/ledger.csv", exports.ledger_csv, name="ledger-csv"),
    path(TEAM + "shares/", sharing.share_list, name="share-list"),
    path(TEAM + "shares/new", sharing.share_create, name="share-create"),
    path(TEAM + "shares/<id:link_id>/revoke", sharing.share_revoke, name="share-revoke"),
    path(TEAM + "shares/<id:link_id>/videos.zip", exports.share_zip, name="share-zip"),
    path(TEAM + "team/", teams.team_detail, name="team-detail"),
    path(TEAM + "team/leave/", teams.team_leave, name="team-leave"),
    path(TEAM + "team/members/<id:member_id>/role/", teams.member_role, name="member-role"),
    path(TEAM + "team/members/<id:member_id>/budget/", teams.member_budget, name="member-budget"),
    path(TEAM + "team/members/<id:member_id>/remove/", teams.member_remove, name="member-remove"),
    path(TEAM + "team/invitations/", teams.invitation_create, name="invitation-create"),
    path(
        TEAM + "team/invitations/<id:invitation_id>/revoke/",
        teams.invitation_revoke,
        name="invitation-revoke",
    ),
    # Scripts: personal access tokens and webhooks
    path(TEAM + "api/", api_settings.tokens, name="api-tokens"),
    path(
        TEAM + "api/tokens/<id:token_id>/revoke",
        api_settings.token_revoke,
        name="api-token-revoke",
    ),
    path(TEAM + "api/webhooks/", api_settings.webhook_list, name="api-webhooks"),
    path(
        TEAM + "api/webhooks/<id:webhook_id>/delete",
        api_settings.webhook_delete,
        name="api-webhook-delete",
    ),
    path(
        TEAM + "api/webhooks/<id:webhook_id>/ping",
        api_settings.webhook_ping,
        name="api-webhook-ping",
    ),
    path(
        TEAM + "api/webhooks/deliveries/<id:delivery_id>/resend",
        api_settings.delivery_resend,
        name="api-delivery-resend",
    ),
    # Upstream keys
    path(TEAM + "keys/", credentials.credential_list, name="credential-list"),
    path(TEAM + "keys/new/", credentials.credential_create, name="credential-create"),
    path(TEAM + "keys/<id:credential_id>/", credentials.credential_edit, name="credential-edit"),
    path(
        TEAM + "keys/<id:credential_id>/test/", credentials.credential_test, name="credential-test"
    ),
    path(
        TEAM + "keys/<id:credential_id>/default/",
        credentials.credential_default,
        name="credential-default",
    ),
    path(
        TEAM + "keys/<id:credential_id>/delete/",
        credentials.credential_delete,
        name="credential-delete",
    ),
]
