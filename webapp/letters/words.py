"""The personal-words meter: how much of a letter is the supporter's own writing."""

from __future__ import annotations

import re
from collections import Counter

from webapp import i18n
from webapp.i18n import gettext

_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)


def words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def personal_share(template_text: str, final_text: str) -> float:
    """Share (0–1) of the final letter's words that the template did not supply.

    `template_text` is the letter as the template rendered it with the supporter's details but
    without their note, so a name or ZIP does not count as personal writing; the note and any edits do.
    Words are compared as a multiset (each template word can cover one word of the letter), the same
    rule static/js/outcry.js applies while the supporter edits, so the page and the records agree.
    """
    final = words(final_text)
    if not final:
        return 0.0
    supplied = Counter(words(template_text))
    own = 0
    for word in final:
        if supplied[word] > 0:
            supplied[word] -= 1
        else:
            own += 1
    return round(own / len(final), 3)


def describe(share: float) -> str:
    """A sentence for the preview page: the same messages as the page script's (webapp/static/js/outcry.js), from the
    same catalog entries, so the sentence reads the same before and after the supporter types."""
    percent = round(share * 100)
    # "%\u00a0of", not "% of": gettext tools read "% o" as a printf placeholder, and the Spanish ("% de") as another.
    if percent == 0:
        return gettext(
            "This letter is all template so far. Offices weigh personal letters more than identical ones: a "
            "sentence or two of your own makes a difference."
        )
    if percent < 20:
        text = gettext(
            "About {percent}%\u00a0of this letter is in your own words. A little more of your own story helps it stand out."
        )
    else:
        text = gettext("About {percent}%\u00a0of this letter is in your own words. Offices notice letters like this.")
    return text.replace("{percent}", i18n.number(percent))
