"""What a caller may do: operator roles and branch scope, customers' consent and bindings."""

ENTRIES: dict[str, tuple[str, str, str]] = {
    # --- roles and scope ------------------------------------------------------------------------
    "role_required": (
        "Role required",
        "The operator's role is below what the action needs (viewer < operator < reviewer < admin).",
        "Ask an admin for the role, or have an operator with it do the action.",
    ),
    "insufficient_role": (
        "Role too low",
        "The operator's role is below what the action needs.",
        "Ask an admin for the role, or have an operator with it do the action.",
    ),
    "viewer_required": (
        "Operator required",
        "The action needs at least an operator's viewer role.",
        "Sign in as an operator.",
    ),
    "head_office_only": (
        "Head office only",
        "Only head-office operators may do this; branch operators are limited to their branch.",
        "Ask a head-office operator.",
    ),
    "branch_scope": (
        "Outside your branch",
        "A branch operator acts only on their branch's objects.",
        "Act on your branch's objects, or ask head office.",
    ),
    "outside_branch_scope": (
        "Outside your branch",
        "The object belongs to another branch than the operator's.",
        "Act on your branch's objects, or ask head office.",
    ),
    "own_work": (
        "Own work",
        "Nobody approves a version they wrote or edited.",
        "Ask another reviewer to approve it.",
    ),
    "self_approval": (
        "Self approval",
        "Nobody approves their own request.",
        "Ask another reviewer to approve it.",
    ),
    "actor_required": (
        "Actor required",
        "The call must name the operator acting.",
        "Call with an operator token.",
    ),
    "partner_required": (
        "Partner required",
        "The call must be made by a partner.",
        "Sign the request as a partner.",
    ),
    "customer_required": (
        "Customer required",
        "The call must be made for a signed-in customer.",
        "Use a customer token of the app.",
    ),
    "reason_required": (
        "Reason required",
        "The action is audited and needs a reason.",
        "Send a `reason` (at most 500 characters, no personal numbers).",
    ),
    "reason_too_long": (
        "Reason too long",
        "The reason is longer than 500 characters.",
        "Shorten the reason.",
    ),
    # --- customers, consent, bindings -----------------------------------------------------------
    "consent_required": (
        "Consent required",
        "The action needs the customer's recorded consent for this purpose.",
        "Ask the customer for consent in the app first.",
    ),
    "consent_withdrawn": (
        "Consent withdrawn",
        "The customer withdrew the consent this action relies on.",
        "Stop the action; ask for consent again if the customer wishes.",
    ),
    "account_linked_elsewhere": (
        "Linked to another customer",
        "This partner user is linked to another customer already.",
        "Use the existing link, or have it removed first.",
    ),
    "binding_expired": (
        "Binding expired",
        "The binding request was not confirmed in time.",
        "Start a new binding.",
    ),
    "binding_not_pending": (
        "Binding not pending",
        "The binding was confirmed, declined or expired already.",
        "Read the binding's state; start a new one if needed.",
    ),
    "already_confirmed": (
        "Already confirmed",
        "The object was confirmed already.",
        "Nothing to do; read its state.",
    ),
    "not_confirmed": (
        "Not confirmed",
        "The object must be confirmed first.",
        "Confirm it, then retry.",
    ),
    "context_required": (
        "Context required",
        "The call needs the app and edition context it is made in.",
        "Send the documented context fields.",
    ),
    "context_mismatch": (
        "Context mismatch",
        "The context sent does not match the object's.",
        "Send the context the object was created with.",
    ),
}
