"""One module per area: each exposes `router` (an APIRouter) and `NAV` (a NavEntry or a list)."""
