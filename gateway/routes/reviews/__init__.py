"""The reviewers' inbox: one queue across content, benefits and their changes, strategies and campaigns."""

from __future__ import annotations

from gateway.routes.reviews import inbox

routers = [inbox.router]
