"""Fixtures for Communicating with Congress: the stand-in CWC endpoint and the settings that point at it."""

from __future__ import annotations

import pytest

from tests.support.cwcserver import API_KEY, CwcServer


@pytest.fixture(scope="session")
def cwc_server(certificate_authority):
    ca, path = certificate_authority
    server = CwcServer(ca, path).start()
    yield server
    server.stop()


@pytest.fixture
def cwc_settings(cwc_server) -> dict[str, str]:
    """Every CWC setting, pointing at the test endpoint (trusted through CWC_CA_FILE)."""
    cwc_server.reset()
    return {
        "CWC_API_URL": cwc_server.url,
        "CWC_API_KEY": API_KEY,
        "CWC_DELIVERY_AGENT": "Outcry Test Delivery Agent",
        "CWC_DELIVERY_AGENT_ACK_EMAIL": "acks@agent.example.org",
        "CWC_DELIVERY_AGENT_CONTACT_NAME": "Dana Operator",
        "CWC_DELIVERY_AGENT_CONTACT_EMAIL": "operator@agent.example.org",
        "CWC_DELIVERY_AGENT_CONTACT_PHONE": "202-555-0100",
        "CWC_CA_FILE": str(cwc_server.ca_file),
    }
