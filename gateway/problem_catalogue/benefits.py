"""Benefits: budgets, wallets, grants, holds and refunds."""

ENTRIES: dict[str, tuple[str, str, str]] = {
    "budget_exhausted": (
        "Budget exhausted",
        "The benefit's budget cannot cover this grant or redemption; nothing was spent.",
        "Nothing to retry; the funder may top the budget up.",
    ),
    "insufficient_balance": (
        "Insufficient balance",
        "The wallet or grant holds less than asked.",
        "Ask for at most the balance.",
    ),
    "not_eligible": (
        "Not eligible",
        "The benefit is not offered to this customer here (app, edition, channel or assurance level).",
        "Offer the customer benefits listed for this app; `detail` says which rule refused.",
    ),
    "not_usable_here": (
        "Not usable here",
        "The benefit may not be used in this scene or by this partner.",
        "Use it where its usable scopes allow.",
    ),
    "not_stackable": (
        "Not stackable",
        "The benefit cannot be combined with another in the same order.",
        "Redeem one benefit per order.",
    ),
    "nothing_to_redeem": (
        "Nothing to redeem",
        "The grant has nothing left to redeem.",
        "Read the wallet; the grant is used up.",
    ),
    "order_amount_required": (
        "Order amount required",
        "The benefit's value depends on the order amount.",
        "Send `order_amount` in fen.",
    ),
    "amount_required": (
        "Amount required",
        "The call needs an amount.",
        "Send a positive amount in fen.",
    ),
    "grant_in_use": (
        "Grant in use",
        "The grant has an open hold.",
        "Confirm or release the hold first.",
    ),
    "grant_not_active": (
        "Grant not active",
        "The grant is expired, used or revoked.",
        "Read the wallet for active grants.",
    ),
    "hold_expired": (
        "Hold expired",
        "The redemption hold expired before it was confirmed; nothing was spent.",
        "Redeem again.",
    ),
    "hold_cancelled": (
        "Hold cancelled",
        "The redemption hold was cancelled; nothing was spent.",
        "Redeem again if the order goes ahead.",
    ),
    "refund_exceeds_redemption": (
        "Refund too large",
        "A refund cannot exceed what was redeemed.",
        "Refund at most the redeemed amount.",
    ),
    "no_end_date": (
        "No end date",
        "The benefit needs an end date for this action.",
        "Set `valid_to`.",
    ),
    "operation_in_progress": (
        "Operation in progress",
        "The same operation is running.",
        "Retry after a moment.",
    ),
}
