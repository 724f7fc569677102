"""One glossary (console/glossary.yaml) for Simplified Chinese and English; `t('area.key')` in templates."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("zh-Hans", "en")
DEFAULT_LANGUAGE = "zh-Hans"
GLOSSARY_PATH = Path(__file__).with_name("glossary.yaml")
logger = logging.getLogger(__name__)


@cache
def glossary() -> dict[str, dict[str, str]]:
    """Flat `area.key` -> {language: text}, read once from the nested YAML file."""
    with GLOSSARY_PATH.open(encoding="utf-8") as handle:
        tree = yaml.safe_load(handle) or {}
    flat: dict[str, dict[str, str]] = {}
    _flatten(tree, "", flat)
    return flat


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, dict[str, str]]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and set(value) & set(LANGUAGES) == set(value):
            out[name] = {lang: str(text) for lang, text in value.items()}
        elif isinstance(value, dict):
            _flatten(value, f"{name}.", out)
        else:
            raise ValueError(f"glossary entry {name} needs a text per language")


def translate(key: str, language: str, /, **values: Any) -> str:
    """The key's text in `language` (the other language, then the key itself, when missing)."""
    entry = glossary().get(key)
    if entry is None:
        _missing(key)
        return key
    text = entry.get(language) or entry.get(DEFAULT_LANGUAGE) or next(iter(entry.values()), key)
    return text.format_map(values) if values else text


def pick_language(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE


@cache
def _missing(key: str) -> None:
    """Say once per key that the glossary lacks it (a page shows the bare key meanwhile)."""
    logger.warning("the glossary has no entry %s", key)
