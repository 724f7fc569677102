"""Rendering a published item: edition variant, locale fallback and safe `{{name}}` substitution."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Engine

from services.content.models import ContentItem, ItemVersion
from services.runtime.db import read_session
from services.runtime.errors import InvalidInput, NotFound

DEFAULT_CHAIN = ("zh-Hans", "en")
_FALLBACK = {"zh-Hant": ("zh-Hant", "zh-Hans"), "zh-Hans": ("zh-Hans",), "en": ("en",)}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,39})\s*\}\}")
MAX_VARIABLES, MAX_VALUE = 30, 500


@dataclass(frozen=True)
class Rendered:
    item_id: str
    version: int
    type: str
    edition: str
    locale: str
    title: str
    body: str
    media: tuple[dict[str, str], ...]
    deep_link: str


@dataclass(frozen=True)
class PublishedItem:
    """The served version of an item, as kept in the serving cache."""

    item_id: str
    version: int
    type: str
    standard_fallback: bool
    variants: dict[str, Any]
    # what serving made of this item, per (edition, locale); lives as long as the snapshot that read it
    served: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)

    def edition_for(self, edition: str) -> str | None:
        """The variant a customer of `edition` sees: their own, else standard where the item allows it."""
        if edition in self.variants:
            return edition
        return "standard" if self.standard_fallback and "standard" in self.variants else None

    def locale_for(self, *, edition: str, chain: tuple[str, ...]) -> str:
        """The locale of `edition`'s variant shown for `chain`: the first it has, else its first."""
        texts = self.variants[edition].get("texts", {})
        return next((loc for loc in chain if loc in texts), next(iter(texts)))

    def render(self, *, edition: str, chain: tuple[str, ...]) -> Rendered:
        variant = self.variants[edition]
        texts = variant.get("texts", {})
        locale = self.locale_for(edition=edition, chain=chain)
        return Rendered(
            item_id=self.item_id,
            version=self.version,
            type=self.type,
            edition=edition,
            locale=locale,
            title=texts[locale]["title"],
            body=texts[locale].get("body", ""),
            media=tuple(variant.get("media", [])),
            deep_link=variant.get("deep_link", ""),
        )


def normalize_locale(tag: str) -> str | None:
    """zh-CN/zh-Hans -> zh-Hans, zh-TW/zh-HK/zh-Hant -> zh-Hant, en-* -> en; None if unsupported."""
    t = tag.strip().lower().replace("_", "-")
    if t == "en" or t.startswith("en-"):
        return "en"
    if t == "zh" or t.startswith("zh-"):
        parts = set(t.split("-")[1:])
        return "zh-Hant" if parts & {"hant", "tw", "hk", "mo"} else "zh-Hans"
    return None


def locale_chain(preferences: list[str]) -> tuple[str, ...]:
    """Locales to try in order: the customer's preferences with their fallbacks, then zh-Hans, en."""
    chain: list[str] = []
    for tag in preferences:
        locale = normalize_locale(tag)
        for loc in _FALLBACK.get(locale or "", ()):
            if loc not in chain:
                chain.append(loc)
    chain.extend(loc for loc in DEFAULT_CHAIN if loc not in chain)
    return tuple(chain)


def substitute(template: str, variables: dict[str, str]) -> str:
    """Replace `{{name}}` by the variable's value, as plain text in one pass (no code, no recursion)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise InvalidInput("missing_variable", f"no value for template variable {name}")
        return variables[name]

    return _PLACEHOLDER.sub(value, template)


def load_published(*, engine: Engine, item_id: str) -> PublishedItem:
    """The version of an active item that is served now; NOT_FOUND `item_not_published` otherwise."""
    with read_session(engine) as session:
        item = session.get(ContentItem, item_id)
        version = session.get(ItemVersion, (item_id, item.published_version)) if item else None
    if item is None or item.status != "active" or version is None or version.status != "published":
        raise NotFound("item_not_published", f"item {item_id} has no published version")
    return PublishedItem(item_id, version.version, item.type, item.standard_fallback, version.variants)


def render_item(
    *, engine: Engine, item_id: str, edition: str, locale: str, variables: dict[str, str]
) -> Rendered:
    """A published item as message content for one edition and locale, variables filled in."""
    if len(variables) > MAX_VARIABLES or any(len(v) > MAX_VALUE for v in variables.values()):
        raise InvalidInput(
            "invalid_variables", f"at most {MAX_VARIABLES} variables of {MAX_VALUE} characters"
        )
    published = load_published(engine=engine, item_id=item_id)
    served_edition = published.edition_for(edition or "standard")
    if served_edition is None:
        raise NotFound("variant_not_available", f"item {item_id} has no {edition} variant")
    rendered = published.render(edition=served_edition, chain=locale_chain([locale] if locale else []))
    return _filled(rendered, variables)


def _filled(r: Rendered, variables: dict[str, str]) -> Rendered:
    return replace(r, title=substitute(r.title, variables), body=substitute(r.body, variables))
