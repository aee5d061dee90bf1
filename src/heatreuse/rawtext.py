"""Untrusted text made safe to check, store and show.

Payloads and fields that come from the outside (MQTT messages, HTTP bodies,
file cells) may hold anything: lone UTF-16 surrogates (``"\\ud800"`` in JSON
decodes to a Python ``str`` that UTF-8 cannot encode, so SQLite and
PostgreSQL refuse it), NUL characters (PostgreSQL ``TEXT`` refuses them),
terminal control sequences, or megabytes. This module is the one place that
decides what such text looks like once it is kept:

* :func:`text_problem` says why a *field* (a point id, a timestamp) is not
  acceptable: too long, a control character or a lone surrogate, with its
  position. Fields are refused, never repaired.
* :func:`bounded_text` makes a label (source, detail, point id) storable and
  short: unsafe characters escaped, cut at a length with the rest counted.
* :func:`capped_payload` makes a raw payload storable and bounded: a payload
  that is clean text within :data:`MAX_RAW_PAYLOAD_BYTES` is kept as it is;
  anything else is kept as a *capped form*: one header line with the size and
  SHA-256 of the whole original payload, then its first bytes as text with
  unsafe characters escaped (``\\xNN`` for control characters and bytes that are
  not UTF-8, ``\\uXXXX`` for lone surrogates)::

      heatreuse-raw/1 size_bytes=10485790 sha256=9c1e...e0 kept_bytes=4096 form=text
      {"readings": [{"point_id": "aaaaaaaaaaaaaaaa...

  ``form=escaped`` says escapes were applied to the kept part. The SHA-256 is
  of the original bytes (a ``str`` is encoded as UTF-8 with lone surrogates as
  their 3-byte sequences, ``surrogatepass``), so a sender can match it against
  what it sent. :func:`parse_capped` reads the header back.

Only the standard library; every layer may use it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: Bytes of a raw payload kept in quarantine (the rest is counted and hashed) [bytes].
MAX_RAW_PAYLOAD_BYTES = 4096
#: First token of the header line of a capped payload.
CAPPED_MARK = "heatreuse-raw/1"

_CAPPED_RE = re.compile(
    r"heatreuse-raw/1 size_bytes=(\d+) sha256=([0-9a-f]{64}) kept_bytes=(\d+) "
    r"form=(text|escaped)\n"
)
# C0 and C1 control characters, DEL, lone surrogates.
_FIELD_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# In payloads, tab, newline and carriage return are ordinary (pretty-printed JSON).
_PAYLOAD_UNSAFE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


def escape_unsafe(text: str, *, keep_newlines: bool = False) -> str:
    """Replace control characters and lone surrogates by ``\\xNN`` / ``\\uXXXX`` escapes.

    Parameters
    ----------
    text
        Any text.
    keep_newlines
        Keep tab, newline and carriage return (payloads); else escape them too.
    """
    pattern = _PAYLOAD_UNSAFE_RE if keep_newlines else _FIELD_UNSAFE_RE
    return pattern.sub(_escape_char, text)


def preview(text: str, max_chars: int = 40) -> str:
    """A short, quoted, escaped rendering of untrusted text for error messages.

    ``repr`` of the first ``max_chars`` characters (control characters and
    surrogates come out as escapes), then the total length when it was cut.
    """
    if len(text) <= max_chars:
        return repr(text)
    return f"{text[:max_chars]!r}... ({len(text):,} characters)"


def has_unsafe_text(text: str) -> bool:
    """Whether ``text`` holds a character :func:`text_problem` refuses (control, surrogate)."""
    return _FIELD_UNSAFE_RE.search(text) is not None


def text_problem(text: str, max_chars: int) -> str | None:
    """Why ``text`` is not acceptable as a field value, or None when it is.

    Refused: more than ``max_chars`` characters, any control character (C0,
    DEL, C1, including tab and newline) and lone surrogates (not Unicode
    scalar values: no UTF-8 encoding exists). The message says what came and
    where, and never repeats more than a short escaped preview.
    """
    if len(text) > max_chars:
        return f"is {len(text):,} characters long, at most {max_chars} allowed ({preview(text)})"
    bad = _FIELD_UNSAFE_RE.search(text)
    if bad is None:
        return None
    code = ord(bad.group())
    kind = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return (
        f"contains {kind} U+{code:04X} at position {bad.start()} (not allowed in text fields): "
        f"{preview(text)}"
    )


def bounded_text(text: str, max_chars: int) -> str:
    """``text`` with unsafe characters escaped, cut to about ``max_chars`` characters.

    For labels kept next to a payload (source, detail, point id): always
    storable (valid UTF-8, no NUL), never longer than ``max_chars`` plus a short
    note of how much was cut.
    """
    cut = len(text) > max_chars
    head = text[:max_chars] if cut else text
    if _FIELD_UNSAFE_RE.search(head) is not None:
        head = escape_unsafe(head)[:max_chars]
    if cut:
        return f"{head}... [+{len(text) - max_chars:,} characters]"
    return head


@dataclass(frozen=True)
class CappedPayload:
    """A raw payload as kept: its first bytes as text, the size and hash of the whole.

    Attributes
    ----------
    text
        The kept text (the whole payload when ``truncated`` is False and
        ``form`` is ``text``).
    size_bytes
        Size of the original payload [bytes].
    sha256
        SHA-256 of the original payload, hex.
    kept_bytes
        Bytes of the original payload that ``text`` shows [bytes].
    form
        ``text`` (as received) or ``escaped`` (unsafe characters escaped).
    """

    text: str
    size_bytes: int
    sha256: str
    kept_bytes: int
    form: str

    @property
    def truncated(self) -> bool:
        """True when only a prefix of the payload was kept."""
        return self.kept_bytes < self.size_bytes


def _utf8_prefix(data: bytes, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of UTF-8 ``data``, not ending inside a character."""
    if len(data) <= max_bytes:
        return data
    end = max_bytes
    # step back over continuation bytes (10xxxxxx) to the start of the cut character
    back = 0
    while end > 0 and back < 3 and (data[end] & 0xC0) == 0x80:
        end -= 1
        back += 1
    return data[:end]


def capped_payload(payload: str | bytes, max_bytes: int = MAX_RAW_PAYLOAD_BYTES) -> str:
    """The form in which a raw payload is kept (see the module docstring).

    Parameters
    ----------
    payload
        The payload as received: text, or bytes (e.g. an MQTT payload that is
        not UTF-8).
    max_bytes
        Bytes of the payload kept [bytes].

    Returns
    -------
    str
        ``payload`` itself when it is text without control characters (other
        than tab/newline/CR) or lone surrogates, within ``max_bytes`` and not
        itself starting with :data:`CAPPED_MARK`; else the capped form (a
        payload that looks capped already is capped again: only the store
        caps, once, so a header can never be forged by a sender). Always
        valid UTF-8 without NUL, and at most about ``4 * max_bytes + 160``
        characters.
    """
    if isinstance(payload, str):
        clean = (
            len(payload) <= max_bytes
            and not payload.startswith(CAPPED_MARK)
            and _PAYLOAD_UNSAFE_RE.search(payload) is None
            and len(payload.encode("utf-8")) <= max_bytes
        )
        if clean:
            return payload
        data = payload.encode("utf-8", "surrogatepass")
        kept = _utf8_prefix(data, max_bytes)
        head = kept.decode("utf-8", "surrogatepass")
    else:
        data = bytes(payload)
        kept = _utf8_prefix(data, max_bytes)
        try:
            head = kept.decode("utf-8")
        except UnicodeDecodeError:
            kept = data[:max_bytes]
            head = kept.decode("utf-8", "backslashreplace")
            head = escape_unsafe(head, keep_newlines=True)
            return _capped(data, len(kept), head, "escaped")
        if (
            len(data) <= max_bytes
            and not head.startswith(CAPPED_MARK)
            and _PAYLOAD_UNSAFE_RE.search(head) is None
        ):
            return head
    escaped = escape_unsafe(head, keep_newlines=True)
    return _capped(data, len(kept), escaped, "escaped" if escaped != head else "text")


def _capped(data: bytes, kept_bytes: int, text: str, form: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return (
        f"{CAPPED_MARK} size_bytes={len(data)} sha256={digest} kept_bytes={kept_bytes} "
        f"form={form}\n{text}"
    )


def parse_capped(stored: str) -> CappedPayload | None:
    """Read a capped form back (None: ``stored`` is a payload kept as it came)."""
    if not stored.startswith(CAPPED_MARK):
        return None
    m = _CAPPED_RE.match(stored)
    if m is None:
        return None
    return CappedPayload(
        text=stored[m.end() :],
        size_bytes=int(m.group(1)),
        sha256=m.group(2),
        kept_bytes=int(m.group(3)),
        form=m.group(4),
    )


def payload_facts(stored: str) -> CappedPayload:
    """Size, hash and kept text of a stored raw payload, capped or kept as it came."""
    capped = parse_capped(stored)
    if capped is not None:
        return capped
    data = stored.encode("utf-8", "surrogatepass")
    return CappedPayload(
        text=stored,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        kept_bytes=len(data),
        form="text",
    )
