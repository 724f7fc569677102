"""The regular families (`invalid_<x>`, `<x>_not_found`, ...) and the bare gRPC status names.

A code without an entry of its own is described by the first family whose pattern matches it.
"""

from __future__ import annotations

import re

# the status names a service's gRPC error maps to when it carries no reason of its own
GRPC_STATUSES: dict[str, str] = {
    "invalid_argument": "The request was refused as not valid by a service.",
    "already_exists": "The object exists already.",
    "failed_precondition": "The object is not in a state that allows this.",
    "aborted": "The request conflicted with another one.",
    "permission_denied": "The caller may not do this.",
    "resource_exhausted": "A limit was reached.",
    "unavailable": "A service is unavailable.",
    "deadline_exceeded": "A service did not answer within the request's deadline.",
    "cancelled": "The request was cancelled before a service answered.",
}

GRPC_STATUS_FIX = "Read `detail`; retry later if it says to, and quote the `trace_id` to the bank otherwise."

# families: (pattern, title, meaning, fix); "{x}" is the part the pattern matched
FAMILIES: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (
        re.compile(r"(?P<x>[a-z0-9_]+)_not_found"),
        "No such {x}",
        "The {x} does not exist, or belongs to another customer, app, partner or branch (another's "
        "objects answer like unknown ones).",
        "Check the {x}'s id; list the ones you can see.",
    ),
    (
        re.compile(r"invalid_(?P<x>[a-z0-9_]+)"),
        "Invalid {x}",
        "The request's {x} is not valid; `detail` says what is expected. Nothing was written.",
        "Correct the {x} as `detail` says and send the request again.",
    ),
    (
        re.compile(r"(?P<x>[a-z0-9_]+)_exists"),
        "{x} exists already",
        "A {x} with this id exists already.",
        "Choose another id, or read the existing {x}.",
    ),
    (
        re.compile(r"(?P<x>[a-z0-9_]+)_invalid"),
        "Invalid {x}",
        "The {x} is not an acceptable URL (https, no credentials, at most 500 characters).",
        "Send an https URL (or a bank app deep link where the field allows one).",
    ),
    (
        re.compile(r"(?P<x>[a-z0-9_]+)_forbidden"),
        "{x} not allowed",
        "The {x} names a host that is not allowed (private addresses, or outside the bank's domains "
        "for landings).",
        "Use a public host (for landings: one of the bank's domains).",
    ),
    (
        re.compile(r"benefit_(?P<x>[a-z_]+)"),
        "Benefit {x}",
        "The benefit is {x}; only active benefits can be granted or redeemed.",
        "Use an active benefit, or have an operator reactivate this one.",
    ),
    (
        re.compile(r"cannot_(?P<x>[a-z_]+)"),
        "Cannot {x}",
        "The object's current status does not allow {x}.",
        "Read its status; only some states allow {x}.",
    ),
)
