"""The written forms a setting or an option must take (an email address, an environment
variable's name), each with what is wrong, in plain words, with a text that does not take it.

The patterns are the settings models' (so the JSON Schema for editors holds them too); the
words are what `reporter validate` and the commands say instead of "does not match".
"""

from __future__ import annotations

import re

EMAIL = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
TIME_OF_DAY = r"^([01]\d|2[0-3]):[0-5]\d$"
WEB_ADDRESS = r"^https?://"

FORMS = {
    ENV_NAME: "is not the name of an environment variable: letters, digits and _, not starting "
              "with a digit, e.g. SMTP_PASSWORD",
    TIME_OF_DAY: "is not a time of day; write HH:MM on the 24-hour clock, e.g. \"08:00\"",
    WEB_ADDRESS: "is not a web address; start it with https:// (or http://)",
}


def email_problem(text: str) -> str:
    """What keeps `text` from being an email address ('' when it is one)."""
    if re.match(EMAIL, text):
        return ""
    shown = f"{text[:80]!r} is not an email address"
    if any(character.isspace() or character in "<>" for character in text):
        why = "it holds a space or < > (give the address alone, without a name)"
    elif text.count("@") != 1:
        why = "it has no @" if "@" not in text else "it has more than one @"
    else:
        why = _halves_problem(*text.split("@"))
    return f"{shown}: {why}; write it as name@example.com"


def _halves_problem(name: str, domain: str) -> str:
    if not name:
        return "nothing comes before the @"
    if not domain:
        return "nothing comes after the @"
    if "." not in domain:
        return f"the domain {domain!r} has no dot"
    return f"{domain!r} after the @ is not a domain such as example.com"


def form_problem(pattern: str, text: object) -> str:
    """What is wrong with a text that does not match one of the settings' patterns."""
    if pattern == EMAIL and isinstance(text, str):
        return email_problem(text)
    shown = f"{str(text)[:80]!r} "
    return shown + FORMS.get(pattern, "is not written in the form this setting takes; see the "
                                      "comments in the starter file (reporter init)")
