"""One escaping path for every string that reaches the report's HTML or CSS, or a terminal.

The report is rendered from a record the rig may not have written (`rig report` on a record
copied from another bench), so every string in it is untrusted. HTML goes through Jinja2's
autoescape; strings built into the page's CSS go through `css_string`, which escapes every
character but ASCII letters and digits (CSS Syntax Level 3, 4.3.7 "consume an escaped code
point": a backslash, up to six hex digits, and one whitespace that ends the escape), so no
quote, backslash, `<`, CR, `@import` or `url(` can end the string or the style block.
Control characters (ESC, BEL, CR, bidi overrides, lone surrogates) are never passed on raw:
`visible` shows them escaped, as Python writes them (`\\x1b`), in the report and on the
terminal alike.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories never passed on raw: controls, format (bidi overrides, zero width),
#: surrogates (a lone one cannot even be encoded)
_HIDDEN = {"Cc", "Cf", "Cs"}
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def css_string(text: str) -> str:
    """`text` as one quoted CSS string: every character but ASCII letters and digits is a
    six-digit hex escape followed by a space (NUL and surrogates, which CSS cannot hold,
    become U+FFFD as a CSS parser would make them)."""
    out = []
    for char in text:
        if char.isascii() and char.isalnum():
            out.append(char)
            continue
        code = ord(char)
        if code == 0 or 0xD800 <= code <= 0xDFFF:
            code = 0xFFFD
        out.append(f"\\{code:06X} ")
    return '"' + "".join(out) + '"'


def _escape(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str, keep: str = "") -> str:
    """`text` with every control, format or surrogate character shown escaped (`\\x1b`,
    `\\u202e`), except those in `keep` (a multi-line reason keeps its "\\n")."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(char if char in keep or unicodedata.category(char) not in _HIDDEN
                   else _escape(char) for char in text)


def visible_in_html(value: object) -> object:
    """Jinja2 `finalize`: a string value shown with its control characters escaped (line
    breaks and tabs kept, HTML shows them as spaces); markup built by the rig itself
    (`Markup`, e.g. the page CSS) and other values pass unchanged."""
    from markupsafe import Markup

    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value, keep="\n\t")
    return value


def control_characters(text: str) -> str:
    """The control characters of `text`, shown escaped (empty when there are none): for a
    one-line refusal of free text such as `--operator`."""
    return "".join(_escape(c) for c in text if unicodedata.category(c) in _HIDDEN)
