"""Why a letter failed or waits, why a mail server was refused, and what a ZIP code's lookup says, in the reader's
language.

The delivery code writes these sentences in English, at a moment nobody reads them (a worker, a letter's stored
reason): they stay English there, in the database and in the logs. A page or an answer shows them through
`translate()`, which finds the sentence among those below (each a catalog message, its %(name)s parts matched as
they were filled in) and gives the reader's version, or the English when the sentence is not known.

tests/test_i18n_reasons.py makes the delivery code produce every sentence it can and fails on any this table
doesn't know, so a reworded English reason is noticed rather than shown in English on a Spanish page.
"""

from __future__ import annotations

import functools
import re

from flask_babel import gettext

from webapp.i18n import DEFAULT, current


def N_(message: str) -> str:
    """Mark a message for the catalog without translating it here (gettext_noop)."""
    return message


REASONS = (
    # webapp/delivery/smtp.py: a supporter's own mail server
    N_(
        "Your mail server doesn't offer an encrypted connection on this port, so your password wasn't sent. "
        "Try port 465 with SSL/TLS."
    ),
    N_("Your mail server doesn't offer a way to log in that we support (PLAIN or LOGIN)."),
    N_(
        "Your mail server took too long while %(phase)s (more than %(seconds)s seconds), so we stopped; we'll keep "
        "trying for a while."
    ),
    N_(
        "Your mail server sent an answer far longer than mail servers send, so we stopped talking to it and nothing "
        "was sent."
    ),
    N_("Your mail server's encrypted connection could not be trusted, so your password wasn't sent."),
    N_(
        "Your email address, user name or password has characters your mail server can't take (such as accented "
        "letters in the address), so nothing was sent. Use the plain form your provider gives."
    ),
    N_(
        "Your mail server rejected the user name or password. Check them (Gmail, Yahoo and iCloud need an app "
        "password) and send again."
    ),
    N_(
        "Microsoft no longer accepts passwords from other apps for this account (basic authentication is turned "
        "off), so nothing was sent. Your password isn't the problem, and typing it again won't help."
    ),
    N_("Your mail server's security certificate could not be verified, so nothing was sent. Check the server name."),
    N_("Your mail server doesn't support what sending needs (login over an encrypted connection)."),
    N_("We couldn't reach your mail server just now; we'll keep trying for a while."),
    N_("Your mail server asked us to try again later (code %(code)s); we'll keep trying for a while."),
    N_(
        "Your email account has reached the number of messages it may send for now, so this letter wasn't sent. "
        "Send it again tomorrow, or another way."
    ),
    N_("Your mail server refused to send from your address. Use the email address of the account you log in with."),
    N_(
        "Your mail server refused the letter itself (code %(code)s), often because it took it for spam; nothing was "
        "sent."
    ),
    N_("The recipient's server refused the letter."),
    N_("Your mail server refused the connection."),
    N_("Your mail server gave an error we didn't expect, so the letter wasn't sent."),
    N_("The letter could not be made into a safe email."),
    # webapp/delivery/ssrf.py: a mail server Outcry won't connect to
    N_(
        "Outcry can't use %(host)s as your mail server. Check its name and port (mail servers use ports %(ports)s); "
        "your provider's help pages give both, for example smtp.gmail.com, port 587."
    ),
    N_("Please enter your mail server's host name."),
    # webapp/delivery/budget.py: too many refused sign-ins at one mail server
    N_(
        "Too many sign-ins to %(host)s through Outcry failed recently, so we paused signing in there for about "
        "%(minutes)s minutes (it protects people whose passwords were stolen). Your letter waits and we'll try again."
    ),
    N_(
        "Your mail server refused the password for %(username)s several times recently, so we paused signing in to "
        "that account for about %(minutes)s minutes (so nobody can guess its password through Outcry). Your letter "
        "waits and we'll try again."
    ),
    # webapp/delivery/oauth.py: sending with a sign-in (Google, Microsoft)
    N_(
        "Your sign-in with %(label)s ran out before this letter could go, so it wasn't sent. Sign in with %(label)s "
        "again to send it; the same letter goes, and nothing is sent twice."
    ),
    N_(
        "Sending with %(label)s isn't set up correctly on this site, so the letter wasn't sent. The site's operators "
        "have been told."
    ),
    N_("We couldn't reach %(label)s just now; we'll keep trying for a while."),
    N_(
        "Your %(label)s account has reached its sending limit, so this letter wasn't sent. Try again tomorrow, or "
        "send it another way."
    ),
    N_("%(label)s refused to send from your address. Write your letter from the address you signed in with."),
    N_(
        "%(label)s didn't let Outcry send from your account (the permission to send may not have been given, or your "
        "organization blocks it). Sign in again and allow sending, or send it another way."
    ),
    N_("%(label)s asked us to wait a little; we'll keep trying for a while."),
    N_("%(label)s refused the recipient's address, so this letter wasn't sent."),
    N_("%(label)s refused the letter (code %(code)s), so it wasn't sent."),
    N_("Microsoft's mail server didn't offer sign-in with Microsoft for sending, so nothing was sent."),
    N_("Microsoft asked us to try again later; we'll keep trying for a while."),
    # webapp/cwc: delivery into Congress's offices
    N_(
        "We couldn't prepare this letter in the form Congress's system requires, so it was not sent. You can send it "
        "through their contact form or as a printed letter instead."
    ),
    N_("The letter is too long for Congress's system. Shorten it and send it again."),
    N_("Congress's system did not accept our delivery settings; we will try again."),
    N_(
        "%(member)s's office did not accept the letter because of the address you gave.%(said)s Check your street "
        "address and ZIP code and send it again, or use their contact form or a printed letter instead."
    ),
    N_(
        "%(member)s's office did not accept the letter through Congress's system.%(said)s You can send it through "
        "their contact form or as a printed letter instead."
    ),
    N_("Congress's system had a problem on its side (error %(code)s); we will try again."),
    N_(
        "Congress's system refused the letter (error %(code)s). You can send it through their contact form or as a "
        "printed letter instead."
    ),
    # webapp/delivery/service.py, webapp/outbox.py: the engine itself
    N_(
        "For your safety we keep your mail password for only a short time, and it ran out before this letter could "
        "go. Please send again."
    ),
    N_("We couldn't send this letter after many tries. Please send it again."),
    N_("Not sent: you asked us to delete your data before this letter went out."),
    # webapp/congress/service.py: what a ZIP code's lookup says (cached per ZIP code, in English)
    N_("One of %(state)s's Senate seats is vacant."),
    N_("The House seat for %(seat)s is vacant: there is no representative to write to until it is filled."),
    N_(
        "%(place)s is represented in Congress by a Delegate in the House, who does not vote on final passage, and "
        "has no senators."
    ),
    N_(
        "%(place)s is represented in Congress by a Resident Commissioner in the House, who does not vote on final "
        "passage, and has no senators."
    ),
    N_(
        "ZIP %(zip)s is %(kind)s in %(state)s, so we know your senators but not your House district. Find your "
        "representative by street address at %(url)s."
    ),
    N_(
        "We don't know ZIP code %(zip)s. Check it for typos; if it is right, find your members of Congress by street "
        "address at %(url)s."
    ),
    # webapp/delivery/cwc.py: the last, since its first part is any of the problems below
    N_("%(problem)s; we will try again."),
)

# Parts of the sentences above that are words themselves: a conversation's phase, what Congress's system said.
PARTS = (
    N_("connecting and signing in"),
    N_("sending the letter"),
    N_("saying goodbye"),
    N_(" Their system said: “%(words)s”"),
    N_("that"),  # a host name too strange to repeat: "Outcry can't use that as your mail server"
    N_("a PO box ZIP"),
    N_("a ZIP for a single organization"),
    N_("a ZIP"),
    N_("Congress's system did not answer within %(seconds)s seconds"),
    N_("We couldn't connect to Congress's system"),
    N_("Congress's system presented a certificate we could not verify"),
    N_("The connection to Congress's system broke off"),
    N_("Congress's system sent an answer we could not read"),
)
# "25, 465, 587 or 2525"
PORTS = re.compile(r"(?P<some>[\d, ]+) or (?P<last>\d+)")


def _pattern(message: str) -> re.Pattern[str]:
    """The message as a pattern: each %(name)s matches what filled it in (a name seen twice, the same text)."""
    seen: set[str] = set()

    def group(match: re.Match[str]) -> str:
        name = match[1]
        if name in seen:
            return f"(?P={name})"
        seen.add(name)
        return f"(?P<{name}>.*?)"

    return re.compile(re.sub(r"%\\\((\w+)\\\)s", group, re.escape(message)), re.S)


@functools.cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((message, _pattern(message)) for message in (*REASONS, *PARTS))


def known(text: str) -> str | None:
    """The catalog message `text` was filled in from, or None."""
    for message, pattern in _patterns():
        if pattern.fullmatch(text):
            return message
    return None


def _part(name: str, value: str) -> str:
    if name == "ports":
        match = PORTS.fullmatch(value)
        return gettext("%(some)s or %(last)s", some=match["some"], last=match["last"]) if match else value
    return translate(value) if value else value


def translate_sentences(text: str | None) -> str:
    """`text` made of several of the sentences above one after another (a ZIP code lookup's notes), each in the
    reader's language; as it is when any part of it is not known."""
    if not text or current() == DEFAULT:
        return text or ""
    found, rest = [], text.strip()
    while rest:
        # The shortest run of whole sentences that is one of the messages (a message may hold several sentences).
        ends = [match.end() for match in re.finditer(r"[.”](?= |$)", rest)]
        for end in ends:
            translated = translate(rest[:end])
            if translated != rest[:end]:
                found.append(translated)
                rest = rest[end:].lstrip()
                break
        else:
            return text
    return " ".join(found)


def translate(text: str | None) -> str:
    """`text` in the reader's language when it is one of the sentences above; otherwise as it is."""
    if not text or current() == DEFAULT:
        return text or ""
    for message, pattern in _patterns():
        match = pattern.fullmatch(text)
        if match:
            return gettext(message, **{name: _part(name, value) for name, value in match.groupdict().items()})
    return text
