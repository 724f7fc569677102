"""Server-side sessions: a random id in an httpOnly SameSite=Strict cookie; everything else stays here."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

COOKIE = "lattice_console"


@dataclass
class Session:
    """One browser's sign-in; the operator token and secret never leave the console process."""

    id: str
    created: float
    last_seen: float
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    language: str = ""
    operator_id: str = ""
    role: str = ""
    branch: str = ""
    token: str = field(default="", repr=False)
    token_expires: float = 0.0
    # kept only to renew the 15-minute operator token while the session lives (docs/console.md)
    secret: str = field(default="", repr=False)
    # navigation badges and the review queue's counts, each with when it was read (cleared by changes)
    counts: dict[str, tuple[float, Any]] = field(default_factory=dict)
    renewing: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    # a message key shown once by the next page that reads it (e.g. "your session expired")
    notice: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.operator_id and self.token)

    @property
    def head_office(self) -> bool:
        return self.signed_in and not self.branch


class SessionStore:
    """In-memory sessions of one console process, with idle and absolute expiry."""

    def __init__(self, *, idle_timeout_s: float, absolute_timeout_s: float, max_sessions: int) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.absolute_timeout_s = absolute_timeout_s
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_seen > self.idle_timeout_s or now - session.created > self.absolute_timeout_s
        )

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (touched), or None when unknown or expired."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        now = time.monotonic()
        if session is None:
            return None
        if self._expired(session, now):
            self.drop(session_id)
            return None
        session.last_seen = now
        self._sessions.move_to_end(session_id)
        return session

    def new(self, *, language: str = "") -> Session:
        """A fresh anonymous session (the least recently used one goes when the store is full)."""
        now = time.monotonic()
        while len(self._sessions) >= self.max_sessions:
            self._sessions.popitem(last=False)
        session = Session(id=secrets.token_urlsafe(32), created=now, last_seen=now, language=language)
        self._sessions[session.id] = session
        return session

    def rotate(self, old: Session) -> Session:
        """A new id and CSRF token for a session changing privilege (no session fixation)."""
        self.drop(old.id)
        session = self.new(language=old.language)
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)


def current_session(request: Request) -> Session:
    """The request's session (created by the session middleware, always present)."""
    return request.state.session


SessionDep = Annotated[Session, Depends(current_session)]


class SignInRequired(Exception):
    """Raised when a page needs an operator and the session has none (redirects to sign-in)."""


def signed_in_session(request: Request) -> Session:
    session: Session = request.state.session
    if not session.signed_in:
        raise SignInRequired()
    return session


OperatorSessionDep = Annotated[Session, Depends(signed_in_session)]
