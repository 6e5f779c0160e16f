"""The personal-words meter: the supporter's own words are counted, the template's and their details are not."""

from __future__ import annotations

from webapp.letters.words import describe, personal_share

TEMPLATE = "Dear Senator Padilla,\n\nPlease reunite the families.\n\nSincerely,\nMaria Lopez"


def test_untouched_template_is_zero():
    assert personal_share(TEMPLATE, TEMPLATE) == 0.0
    assert "all template so far" in describe(0.0)


def test_the_note_counts_even_with_words_the_template_also_uses():
    note = "Please, my family was separated too."
    final = TEMPLATE.replace("Sincerely,", f"{note}\n\nSincerely,")
    assert personal_share(TEMPLATE, final) == round(6 / 16, 3)  # 10 template words + 6 of hers


def test_a_letter_in_ones_own_words_is_all_personal():
    assert personal_share(TEMPLATE, "Children belong with their parents.") == 1.0
    assert "Offices notice letters like this." in describe(1.0)


def test_empty_letter():
    assert personal_share(TEMPLATE, "   ") == 0.0
