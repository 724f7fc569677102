"""Two console replicas sharing their sessions in Redis: a sign-in on one is a sign-in on the other,
a sign-out on either ends it everywhere, and the store holds neither the cookie's id nor a secret."""

from __future__ import annotations

import hashlib

import httpx
import redis

from console.session import COOKIE, RedisSessionStore
from services.identity.demo_data import DEMO_OPERATOR_SECRETS
from tests.console.crawl import CSRF, META_CSRF, sign_in
from tests.gateway.conftest import redis_url  # noqa: F401  (the suite's private redis-server fixture)


def _replica(url: str, cookie: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
    client.cookies.set(COOKIE, cookie)
    return client


def test_two_replicas_share_sign_in_and_sign_out_through_redis(start_console, redis_url):  # noqa: F811
    db = redis.Redis.from_url(redis_url)
    first = start_console(CONSOLE_REDIS_URL=redis_url)
    second = start_console(CONSOLE_REDIS_URL=redis_url)
    operator = sign_in(first, "hq-viewer")
    cookie = str(operator.client.cookies[COOKIE])
    stored = db.get(RedisSessionStore.PREFIX + hashlib.sha256(cookie.encode()).hexdigest())
    assert stored is not None, "the session is in Redis under the hash of its id"
    for key in db.scan_iter(RedisSessionStore.PREFIX + "*"):
        value = db.get(key) or b""
        assert cookie.encode() not in key + value
        assert DEMO_OPERATOR_SECRETS["hq-viewer"].encode() not in value, "no operator secret is stored"
    with _replica(second, cookie) as other:
        home = other.get("/")
        assert home.status_code == 200 and "hq-viewer" in home.text, "the other replica knows the sign-in"
        token = (META_CSRF.search(home.text) or CSRF.search(home.text)).group(1)
        assert other.post("/sign-out", data={"csrf_token": token}).status_code == 303
    back = operator.client.get("/")
    assert back.status_code == 303 and "/sign-in" in back.headers["location"], "signed out everywhere"
    operator.client.close()
