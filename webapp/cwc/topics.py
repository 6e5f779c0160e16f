"""The Library of Congress topics a CWC message is filed under, chosen by organizers for each letter.

These are the policy-area terms the Library of Congress (Congress.gov, from the Congressional Research Service)
files every bill under; CWC's message format asks for topics from the Library of Congress's list. The terms were
checked against several public copies of the policy-area list; whether CWC accepts every one of them could not be
checked against CWC itself (see README, "Communicating with Congress").
"""

from __future__ import annotations

from webapp.i18n import gettext

TOPICS: tuple[str, ...] = (
    "Agriculture and Food",
    "Animals",
    "Armed Forces and National Security",
    "Arts, Culture, Religion",
    "Civil Rights and Liberties, Minority Issues",
    "Commerce",
    "Congress",
    "Crime and Law Enforcement",
    "Economics and Public Finance",
    "Education",
    "Emergency Management",
    "Energy",
    "Environmental Protection",
    "Families",
    "Finance and Financial Sector",
    "Foreign Trade and International Finance",
    "Government Operations and Politics",
    "Health",
    "Housing and Community Development",
    "Immigration",
    "International Affairs",
    "Labor and Employment",
    "Law",
    "Native Americans",
    "Private Legislation",
    "Public Lands and Natural Resources",
    "Science, Technology, Communications",
    "Social Sciences and History",
    "Social Welfare",
    "Sports and Recreation",
    "Taxation",
    "Transportation and Public Works",
    "Water Resources Development",
)

# A message names at least one topic; more than a few says nothing about what it is about.
MAX_TOPICS = 3


def problems(chosen: list[str]) -> list[str]:
    """What is wrong with an organizer's choice of topics, in sentences; empty when it is fine (or empty)."""
    found = []
    unknown = [topic for topic in chosen if topic not in TOPICS]
    if unknown:
        found.append(
            gettext("Not a Library of Congress topic: %(topics)s. Pick from the list.", topics=", ".join(unknown))
        )
    if len(set(chosen)) != len(chosen):
        found.append(gettext("Each topic can be chosen only once."))
    if len(chosen) > MAX_TOPICS:
        found.append(gettext("Choose at most %(most)s topics: offices sort letters by them.", most=MAX_TOPICS))
    return found
