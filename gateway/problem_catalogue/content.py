"""Content: items, variants, locales, review and placements."""

ENTRIES: dict[str, tuple[str, str, str]] = {
    "compliance_violation": (
        "Compliance rules refuse the content",
        "The text breaks the bank's compliance rules; `violations` lists each rule and where.",
        "Edit the text so that no rule in `violations` applies, then submit again.",
    ),
    "content_unavailable": (
        "Content unavailable",
        "The content is not published for this app, edition or locale.",
        "Ask for a published item and an edition and locale it has.",
    ),
    "duplicate_locale": (
        "Duplicate locale",
        "The same locale is given twice.",
        "Give each locale once.",
    ),
    "duplicate_variant": (
        "Duplicate variant",
        "The same edition variant is given twice.",
        "Give each edition once.",
    ),
    "item_archived": (
        "Item archived",
        "The item is archived and cannot be changed or placed.",
        "Create a new item.",
    ),
    "item_not_published": (
        "Item not published",
        "Only published items can be placed or served.",
        "Have the item reviewed and published first.",
    ),
    "locale_required": (
        "Locale required",
        "The text needs at least one locale.",
        "Give `zh-Hans` (and other locales as needed).",
    ),
    "missing_variable": (
        "Template variable missing",
        "The message template uses a variable the request does not give.",
        "Send every variable the template names.",
    ),
    "not_a_draft": (
        "Not a draft",
        "Only drafts can be edited or submitted.",
        "Create a new draft from the published version.",
    ),
    "not_editable": (
        "Not editable",
        "The object is in a state that cannot be edited.",
        "Read its state; create a new version instead.",
    ),
    "nothing_to_review": (
        "Nothing to review",
        "The object is not waiting for review.",
        "Submit it for review first.",
    ),
    "placement_removed": (
        "Placement removed",
        "The placement was removed.",
        "Create a new placement.",
    ),
    "slot_immutable": (
        "Slot cannot change",
        "A slot's identity fields cannot change once created.",
        "Create a new slot.",
    ),
    "standard_variant_required": (
        "Standard variant required",
        "Every item needs a variant for the standard edition.",
        "Add a `standard` edition variant.",
    ),
    "too_many_media": (
        "Too many media",
        "The item has more media than allowed.",
        "Remove media.",
    ),
    "too_many_variants": (
        "Too many variants",
        "The item has more variants than allowed.",
        "Remove variants.",
    ),
    "variant_not_available": (
        "Variant not available",
        "The item has no variant for this edition.",
        "Ask for an edition the item has, or add the variant.",
    ),
    "version_changed": (
        "Changed meanwhile",
        "Someone changed the object since you read it.",
        "Read it again and reapply your change.",
    ),
    "version_mismatch": (
        "Version mismatch",
        "The version you named is not the current one.",
        "Read the current version and retry with it.",
    ),
}
