"""Conversion: campaigns, milestones, postbacks, and the platform's traces."""

ENTRIES: dict[str, tuple[str, str, str]] = {
    "campaign_inactive": (
        "Campaign inactive",
        "The campaign is paused or ended.",
        "Use an active campaign.",
    ),
    "campaign_not_approved": (
        "Campaign not approved",
        "The campaign was not approved by a reviewer yet.",
        "Wait for approval.",
    ),
    "milestone_id_conflict": (
        "Milestone id conflict",
        "The same milestone id appears with different content.",
        "Give each milestone its own id.",
    ),
    "milestones_unavailable": (
        "Milestones not stored",
        "The milestones could not be stored; none were accepted.",
        "Retry after `Retry-After` with the same batch.",
    ),
    "postback_url_unresolvable": (
        "Postback URL does not resolve",
        "The postback host has no public address.",
        "Register a public https URL.",
    ),
    "trace_not_found": (
        "No such trace",
        "No spans with this trace id are stored here.",
        "Check the trace id (32 hex characters); spans of old runs may have been removed.",
    ),
    "traces_not_local": (
        "Traces are in the collector",
        "Spans go to the configured OpenTelemetry collector.",
        "Look the trace up in the collector (Jaeger).",
    ),
}
