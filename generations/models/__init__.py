"""The studio's models, one module per area (the app label, table names and
migrations are those of the one module they came from):

- `teams`: teams and their people (roles, memberships, invitations);
- `keys`: upstream keys, where they may be sent (the address rules) and prices;
- `ledger`: the spend ledger and a team's month (`Usage`);
- `jobs`: generations, their images, tags, the gallery's kept totals;
- `sharing`: share links;
- `films`: videos joined from others (a chain as one MP4);
- `api`: personal access tokens, idempotency keys, webhooks;
- `daily`: prompt templates, notifications;
- `workers`: what processes coordinate through (leases, throttles, rate buckets).

State changes of one row are methods here; workflows live in `generations.services`.
"""

from generations.models.api import (
    ApiToken,
    ApiTokenQuerySet,
    DeliveryStatus,
    IdempotencyKey,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from generations.models.daily import (
    Notification,
    NotificationKind,
    PromptTemplate,
)
from generations.models.films import (
    JoinedPart,
    JoinedVideo,
    JoinState,
    parts_key,
)
from generations.models.jobs import (
    ACTIVE,
    DISPATCHED,
    IMAGE_EXTENSIONS,
    POLLED,
    TERMINAL,
    GalleryTotal,
    Generation,
    GenerationImage,
    GenerationQuerySet,
    ImageRole,
    Outcome,
    Status,
    Tag,
    fitted_path,
    last_frame_path,
    original_path,
    poster_path,
    video_path,
)
from generations.models.keys import (
    Credential,
    CredentialKind,
    Price,
    PriceQuerySet,
    address_rules,
    allowed_hosts_text,
    credential_fingerprint,
)
from generations.models.ledger import (
    ZERO,
    EntryKind,
    LedgerEntry,
    Quota,
    Usage,
    following_month,
    month_start,
    next_month_start,
)
from generations.models.sharing import (
    SHARE_ID_LENGTH,
    ShareItem,
    ShareLink,
)
from generations.models.teams import (
    ROLE_RANK,
    Invitation,
    InvitationQuerySet,
    Membership,
    Role,
    Team,
)
from generations.models.workers import (
    RateBucket,
    Throttle,
    WorkerLease,
)

__all__ = [
    "ACTIVE",
    "DISPATCHED",
    "IMAGE_EXTENSIONS",
    "POLLED",
    "ROLE_RANK",
    "SHARE_ID_LENGTH",
    "TERMINAL",
    "ZERO",
    "ApiToken",
    "ApiTokenQuerySet",
    "Credential",
    "CredentialKind",
    "DeliveryStatus",
    "EntryKind",
    "GalleryTotal",
    "Generation",
    "GenerationImage",
    "GenerationQuerySet",
    "IdempotencyKey",
    "ImageRole",
    "Invitation",
    "InvitationQuerySet",
    "JoinState",
    "JoinedPart",
    "JoinedVideo",
    "LedgerEntry",
    "Membership",
    "Notification",
    "NotificationKind",
    "Outcome",
    "Price",
    "PriceQuerySet",
    "PromptTemplate",
    "Quota",
    "RateBucket",
    "Role",
    "ShareItem",
    "ShareLink",
    "Status",
    "Tag",
    "Team",
    "Throttle",
    "Usage",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "WorkerLease",
    "address_rules",
    "allowed_hosts_text",
    "credential_fingerprint",
    "fitted_path",
    "following_month",
    "last_frame_path",
    "month_start",
    "next_month_start",
    "original_path",
    "parts_key",
    "poster_path",
    "video_path",
]
