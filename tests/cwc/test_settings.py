"""CWC's settings: off without them, on with all of them, refused when half given or malformed; the key never shown."""

from __future__ import annotations

import pytest

from webapp import create_app
from webapp.config import CWC_REQUIRED, ConfigError


def test_without_settings_cwc_is_off(app):
    assert app.config["CWC_ENABLED"] is False


def test_with_every_setting_cwc_is_on(make_app, cwc_settings):
    assert make_app(**cwc_settings).config["CWC_ENABLED"] is True


@pytest.mark.parametrize("missing", CWC_REQUIRED)
def test_half_the_settings_is_refused_naming_what_is_missing(app, cwc_settings, missing):
    settings = {**cwc_settings, missing: ""}
    with pytest.raises(ConfigError, match=missing):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", **settings})


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CWC_API_URL", "http://cwc.example.org/v2/message", "https://"),
        ("CWC_API_URL", "https://cwc.example.org/v2/message?apikey=abc", "without a query string"),
        ("CWC_API_URL", "https://user:pw@cwc.example.org/v2/message", "password"),
        ("CWC_DELIVERY_AGENT_CONTACT_PHONE", "(202) 555-0100", "202-555-0100"),
        ("CWC_DELIVERY_AGENT_ACK_EMAIL", "acks-at-agent", "not an email"),
        ("CWC_SENATE_API_URL", "https://soapbox.example.org/api/messages/", "together"),
        ("CWC_CA_FILE", "/nonexistent/ca.pem", "does not exist"),
    ],
)
def test_malformed_settings_are_refused_with_how_to_fix_them(app, cwc_settings, name, value, says):
    with pytest.raises(ConfigError, match=says):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", **cwc_settings, name: value})


def test_config_show_hides_the_key_and_says_cwc_is_on(make_app, cwc_settings):
    configured = make_app(
        **cwc_settings, CWC_SENATE_API_URL=cwc_settings["CWC_API_URL"], CWC_SENATE_API_KEY="senate-k3y"
    )
    output = configured.test_cli_runner().invoke(args=["config", "show"]).output
    lines = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert "set (hidden)" in lines["CWC_API_KEY"] and "set (hidden)" in lines["CWC_SENATE_API_KEY"]
    assert cwc_settings["CWC_API_KEY"] not in output and "senate-k3y" not in output
    assert "True" in lines["CWC_ENABLED"] and "[derived]" in lines["CWC_ENABLED"]
    assert cwc_settings["CWC_API_URL"] in lines["CWC_API_URL"]


def test_cwc_check_builds_a_valid_message_for_every_member(make_app, cwc_settings):
    configured = make_app(**cwc_settings)
    result = configured.test_cli_runner().invoke(args=["cwc", "check"])
    assert result.exit_code == 0, result.output
    assert "CWC: on, as delivery agent 'Outcry Test Delivery Agent'" in result.output
    assert "bundled, written by Outcry" in result.output
    assert "members: 537, messages that validate: 537" in result.output


def test_cwc_check_names_members_a_stricter_grammar_refuses(make_app, cwc_settings, tmp_path):
    grammar = tmp_path / "strict.rng"
    from webapp.cwc.message import GRAMMAR

    grammar.write_text(GRAMMAR.read_text().replace("<value>CA</value>", ""))  # a grammar without California
    result = make_app(**cwc_settings, CWC_GRAMMAR=str(grammar)).test_cli_runner().invoke(args=["cwc", "check"])
    assert result.exit_code == 1
    assert "set by CWC_GRAMMAR" in result.output
    assert "(SCA00): /CWC/Constituent/StateAbbreviation" in result.output
    assert "members: 537, messages that validate: 484" in result.output  # 2 senators, 51 seated representatives
