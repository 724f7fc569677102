"""The README's configuration table is the settings classes' (tools/config_table.py)."""

from __future__ import annotations

from tools import config_table


def test_readme_table_matches_the_settings_classes() -> None:
    assert config_table.main(["--check"]) == 0, "run make config-docs"


def test_a_drifted_table_is_caught() -> None:
    readme = config_table.README.read_text(encoding="utf-8")
    drifted = readme.replace("| `REACH_SMS_WEBHOOK_URL` |", "| `REACH_SMS_URL` |")
    assert drifted != readme
    assert config_table.replaced(drifted) == readme


def test_the_settings_a_bank_must_set_are_there_and_secrets_are_marked() -> None:
    table = {variable: (default, secret) for variable, default, secret, _who, _meaning in config_table.rows()}
    for variable in (
        "REACH_SMS_WEBHOOK_URL",
        "REACH_PUSH_WEBHOOK_URL",
        "REACH_PARTNER_WEBHOOK_URL",
        "CONVERSION_SAFE_LANDING_URL",
        "CONVERSION_FLOOD_MAX_CLICKS",
        "CONVERSION_FLOOD_WINDOW_S",
        "CONVERSION_FLOOD_GUARD_MODE",
        "PROBLEM_BASE_URL",
    ):
        assert variable in table, variable
    for secret in ("REACH_WEBHOOK_SECRET", "PEPPER", "CORE_BANKING_KEYS", "PROVIDER_RECEIPT_SECRETS"):
        assert table[secret][1] == "**secret**", secret
    # a secret's development value is never printed in the README
    assert "dev-only-secret" not in config_table.render()
    assert all(meaning for *_rest, meaning in config_table.rows())
