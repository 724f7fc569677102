"""Reach: behaviour events, strategies, proposals and deliveries."""

ENTRIES: dict[str, tuple[str, str, str]] = {
    "events_unavailable": (
        "Events not stored",
        "The behaviour events could not be stored; none were accepted.",
        "Retry after `Retry-After` with the same events (their ids deduplicate).",
    ),
    "personal_data_in_event": (
        "Personal data in an event",
        "An event attribute carries personal data.",
        "Send ids and categories only.",
    ),
    "strategy_not_editable": (
        "Strategy not editable",
        "A strategy under review or live cannot be edited.",
        "Pause it or create a new version.",
    ),
    "not_live": (
        "Not live",
        "The object is not live.",
        "Activate it first.",
    ),
    "not_pending": (
        "Not pending",
        "The object is not waiting for a decision.",
        "Read its state.",
    ),
    "not_rollbackable": (
        "Cannot roll back",
        "This change cannot be rolled back.",
        "Apply a new change instead.",
    ),
    "proposal_not_pending": (
        "Proposal not pending",
        "The proposal was decided already.",
        "Read its state.",
    ),
    "nothing_to_update": (
        "Nothing to update",
        "The request changes no field.",
        "Send at least one field to change.",
    ),
    "not_dead_lettered": (
        "Not dead-lettered",
        "Only dead-lettered deliveries can be resent.",
        "Pick a dead-lettered delivery.",
    ),
}
