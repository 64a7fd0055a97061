"""Small text helpers every layer may use (they know nothing of telemetry or formats).

`clip` is the one way the engine shortens text taken from the data. It cuts at a token
boundary and drops the piece the cut went through, so a secret that straddles the limit is
never kept half: redaction runs later, on the clipped text, and cannot recognise half a key.
"""

from __future__ import annotations

ELLIPSIS = "…"
# Characters that end a token: a cut just after one of these keeps only whole tokens.
# ('@' and '.' are not among them: half an e-mail address or half a JWT is still a leak.)
_BOUNDARY = frozenset(" \t\r\n,;|()[]{}<>\"'=&?/:`")


def clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its longest prefix that ends on a token
    boundary (within `limit - 1`) followed by an ellipsis; "…" alone when no boundary."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)]
    # The piece at the cut continues past it unless the next character is a boundary.
    if text[len(head)] not in _BOUNDARY:
        end = len(head)
        while end > 0 and head[end - 1] not in _BOUNDARY:
            end -= 1
        head = head[:end]
    return head.rstrip() + ELLIPSIS
