"""What keeps a campaign from being published: the one check the workspace's publish button, the organizer API,
`flask letters check` and the tests all call, on the database's records or on a campaign folder's files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from webapp.campaigns.files import TARGET_FIELDS, CampaignSpec
from webapp.i18n import gettext, ngettext
from webapp.i18n import lazy_gettext as _l
from webapp.models import CALL, CONTACT_FORM, LEGISLATOR_KINDS, PRINT, LetterTemplate, Target

# What a member of Congress can be reached by (they publish no email address).
CONGRESS_CHANNELS = frozenset({CONTACT_FORM, PRINT, CALL})
CHANNEL_WORDS = {
    "smtp": _l("email"),
    "mailto": _l("the mail app"),
    "contact_form": _l("a contact form"),
    "call": _l("a phone call"),
    "print": _l("a printed letter"),
}


def offered_channels(target: Target, templates: Iterable[LetterTemplate]) -> list[str]:
    """The ways a supporter is offered to reach `target`: through a letter (or call script) that fits them and
    that they can take, and a phone call whenever a number is known (the campaign page links it even without a
    script). Empty: the target is a dead end and must not be offered."""
    found = [channel for template in templates if template.fits(target) for channel in template.channels_for(target)]
    if CALL in target.channels:
        found.append(CALL)
    return list(dict.fromkeys(found))


def _words(channels: Iterable[str]) -> str:
    names = [str(CHANNEL_WORDS.get(channel, channel)) for channel in dict.fromkeys(channels)]
    if len(names) == 1:
        return names[0]
    return gettext("%(some)s or %(last)s", some=", ".join(names[:-1]), last=names[-1])


def unreachable_reason(target: Target, templates: Sequence[LetterTemplate]) -> str:
    """Why no way to reach `target` is offered, and what would fix it, in an organizer's words."""
    if not target.channels:
        return gettext(
            "%(name)s can't be reached: there is no email address, contact form, phone number or postal address for "
            "them. Add one, or remove them from the campaign.",
            name=target.name,
        )
    fitting = [template for template in templates if template.fits(target)]
    if not fitting:
        return gettext(
            "%(name)s can't be reached: no published letter is for them. Write one, or remove them.", name=target.name
        )
    wanted = [channel for template in fitting for channel in template.channels]
    return gettext(
        "%(name)s can't be reached: the letters for them go by %(wanted)s, and they take only %(taken)s. Add their "
        "details, or let a letter go another way.",
        name=target.name,
        wanted=_words(wanted),
        taken=_words(target.channels),
    )


def publish_problems(
    *,
    summary: str,
    congress: bool,
    targets: Sequence[Target],
    templates: Sequence[LetterTemplate],
    resources: Iterable[tuple[str, str | None]],
) -> list[str]:
    """Everything that would leave a supporter with a dead end, an empty page or a broken link.

    `targets` are the campaign's own (active) targets, `templates` the letters and call scripts offered to
    supporters, `resources` (name, link) pairs for "More you can do". An empty list: fit to publish.
    """
    problems = []
    if not any(template.channels for template in templates):
        problems.append(gettext("Add at least one letter first: supporters would find nothing to send."))
    if not targets and not congress:
        problems.append(gettext("Add at least one target (or write to members of Congress) first."))
    if not summary.strip():
        problems.append(
            gettext("Write a summary: it is the first thing supporters read, on the campaign page and in the list.")
        )
    for target in targets:
        if not offered_channels(target, templates):
            problems.append(unreachable_reason(target, templates))
    if (
        congress
        and templates
        and not any(
            set(template.target_kinds or []) & set(LEGISLATOR_KINDS) and set(template.channels) & CONGRESS_CHANNELS
            for template in templates
        )
    ):
        problems.append(
            gettext(
                "Writing to members of Congress is on, but no published letter or call script is for them (by "
                "contact form, printed letter or phone). Add one, or turn writing to Congress off."
            )
        )
    unlinked = [name for name, url in resources if not (url or "").strip()]
    if unlinked:
        problems.append(
            ngettext(
                "%(names)s has no link: add its own website (check the address), or remove it from “More you can do”.",
                "%(names)s have no link: add each one's own website (check the address), or remove it from “More "
                "you can do”.",
                len(unlinked),
                names=_words_and(unlinked),
            )
        )
    return problems


def _words_and(names: list[str]) -> str:
    quoted = [f"“{name}”" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return gettext("%(some)s and %(last)s", some=", ".join(quoted[:-1]), last=quoted[-1])


def spec_problems(spec: CampaignSpec) -> list[str]:
    """`publish_problems` for a campaign folder, read by `read_campaign` (every letter in it is offered)."""
    targets = [
        Target(id=values["id"], **{key: values.get(key) for key in TARGET_FIELDS if key in values})
        for values in spec.targets
    ]
    templates = [
        LetterTemplate(
            slug=template.slug,
            name=template.name,
            target_ids=list(template.targets),
            target_kinds=list(template.kinds),
            channels=list(template.channels),
        )
        for template in spec.templates
    ]
    return publish_problems(
        summary=spec.summary,
        congress=spec.congress,
        targets=targets,
        templates=templates,
        resources=[(str(resource["name"]), resource.get("url")) for resource in spec.resources],
    )
