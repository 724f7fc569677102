"""Server-side sessions: a random id in an httpOnly SameSite=Strict cookie; everything else stays here."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, fields
from typing import Annotated, Any

from fastapi import Depends, Request

COOKIE = "lattice_console"
# a page is not started with an operator token that expires sooner than this (the operator signs in again)
RENEW_BEFORE_S = 60.0


@dataclass
class Session:
    """One browser's sign-in; the operator token never leaves the console's session store.

    No operator secret is kept: when the 15-minute operator token runs out the operator confirms their
    secret on the sign-in page (their id filled in, back to the same page), see docs/console.md.
    """

    id: str
    created: float  # wall-clock seconds: replicas sharing a store agree on them
    last_seen: float
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    language: str = ""
    operator_id: str = ""
    role: str = ""
    branch: str = ""
    token: str = field(default="", repr=False)
    token_expires: float = 0.0
    # navigation badges and the review queue's counts, each with when it was read (cleared by changes)
    counts: dict[str, tuple[float, Any]] = field(default_factory=dict)
    # a message key shown once by the next page that reads it (e.g. "your session expired")
    notice: str = ""

    @property
    def signed_in(self) -> bool:
        """An operator whose token still has more than RENEW_BEFORE_S to live."""
        return bool(self.operator_id and self.token) and self.token_expires - time.time() > RENEW_BEFORE_S

    @property
    def head_office(self) -> bool:
        return self.signed_in and not self.branch

    def to_json(self) -> str:
        """Everything but the id (a store keys sessions by a hash of it and never holds the id itself)."""
        data = {k: v for k, v in asdict(self).items() if k != "id"}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, session_id: str, text: str | bytes) -> Session:
        data = json.loads(text)
        data["counts"] = {k: (v[0], v[1]) for k, v in (data.get("counts") or {}).items()}
        return cls(id=session_id, **{k: v for k, v in data.items() if k in _FIELDS and k != "id"})


_FIELDS = {f.name for f in fields(Session)}


class SessionStore(ABC):
    """Sessions with idle and absolute expiry; `save` after each request keeps what it changed."""

    def __init__(self, *, idle_timeout_s: float, absolute_timeout_s: float) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.absolute_timeout_s = absolute_timeout_s

    def expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_seen > self.idle_timeout_s or now - session.created > self.absolute_timeout_s
        )

    def fresh(self, *, language: str = "") -> Session:
        now = time.time()
        return Session(id=secrets.token_urlsafe(32), created=now, last_seen=now, language=language)

    async def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (touched), or None when unknown or expired."""
        if not session_id or len(session_id) > 100:
            return None
        session = await self._load(session_id)
        now = time.time()
        if session is None:
            return None
        if self.expired(session, now):
            await self.drop(session_id)
            return None
        session.last_seen = now
        return session

    async def new(self, *, language: str = "") -> Session:
        """A fresh anonymous session (kept once saved)."""
        return self.fresh(language=language)

    async def rotate(self, old: Session) -> Session:
        """A new id and CSRF token for a session changing privilege (no session fixation)."""
        await self.drop(old.id)
        return await self.new(language=old.language)

    @abstractmethod
    async def _load(self, session_id: str) -> Session | None: ...

    @abstractmethod
    async def save(self, session: Session) -> None: ...

    @abstractmethod
    async def drop(self, session_id: str) -> None: ...

    async def close(self) -> None:
        return None


class MemorySessionStore(SessionStore):
    """Sessions of one console process (one replica, or a sticky load balancer)."""

    def __init__(self, *, idle_timeout_s: float, absolute_timeout_s: float, max_sessions: int) -> None:
        super().__init__(idle_timeout_s=idle_timeout_s, absolute_timeout_s=absolute_timeout_s)
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    async def _load(self, session_id: str) -> Session | None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
        return session

    async def save(self, session: Session) -> None:
        """Kept (the least recently used one goes when the store is full); idle time counts from now."""
        session.last_seen = time.time()
        if session.id not in self._sessions:
            while len(self._sessions) >= self.max_sessions:
                self._sessions.popitem(last=False)
        self._sessions[session.id] = session
        self._sessions.move_to_end(session.id)

    async def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)


class RedisSessionStore(SessionStore):
    """Sessions in Redis, shared by every console replica; each expires in Redis with its idle timeout.

    Keys are the SHA-256 of the cookie's id (the store never holds a usable cookie value).
    """

    PREFIX = "lattice:console:session:"

    def __init__(self, url: str, *, idle_timeout_s: float, absolute_timeout_s: float) -> None:
        super().__init__(idle_timeout_s=idle_timeout_s, absolute_timeout_s=absolute_timeout_s)
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)

    def _key(self, session_id: str) -> str:
        return self.PREFIX + hashlib.sha256(session_id.encode()).hexdigest()

    async def _load(self, session_id: str) -> Session | None:
        text = await self._redis.get(self._key(session_id))
        if text is None:
            return None
        try:
            return Session.from_json(session_id, text)
        except (ValueError, TypeError):
            return None

    async def save(self, session: Session) -> None:
        # idle time counts from the end of a request: a slow sign-in does not use up the idle timeout
        session.last_seen = time.time()
        left = min(self.idle_timeout_s, self.absolute_timeout_s - (time.time() - session.created))
        if left <= 0:
            await self.drop(session.id)
            return
        await self._redis.set(self._key(session.id), session.to_json(), px=max(1, int(left * 1000)))

    async def drop(self, session_id: str) -> None:
        await self._redis.delete(self._key(session_id))

    async def close(self) -> None:
        await self._redis.aclose()


def open_session_store(settings: Any) -> SessionStore:
    """Redis when `CONSOLE_REDIS_URL` (or `REDIS_URL`) is set, else this process's memory."""
    timeouts = {"idle_timeout_s": settings.idle_timeout_s, "absolute_timeout_s": settings.absolute_timeout_s}
    if settings.redis_url:
        return RedisSessionStore(settings.redis_url, **timeouts)
    return MemorySessionStore(max_sessions=settings.max_sessions, **timeouts)


async def current_session(request: Request) -> Session:
    """The request's session (created by the session middleware, always present; async: no thread hop)."""
    return request.state.session


SessionDep = Annotated[Session, Depends(current_session)]


class SignInRequired(Exception):
    """Raised when a page needs an operator and the session has none (redirects to sign-in)."""


def signed_in_session(request: Request) -> Session:
    session: Session = request.state.session
    if not session.signed_in:
        if session.operator_id:  # the operator token ran out: confirm the secret, same page after
            session.notice = "auth.renew"
        raise SignInRequired()
    return session


async def _signed_in(request: Request) -> Session:
    return signed_in_session(request)


OperatorSessionDep = Annotated[Session, Depends(_signed_in)]
