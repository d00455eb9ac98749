"""IRCv3 labeled-response: how the replies to one labelled command are sent back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from twistedchat.wire.message import Message


def labeled(
    label: str | None, replies: Sequence[Message], batch_refs: Iterator[str] | None
) -> list[Message]:
    """The lines to send for ``replies`` to a command labelled ``label``.

    No replies: an ``ACK``. One reply, or a client without ``batch`` (``batch_refs``
    None): the first reply carries the label. Several: a ``labeled-response`` batch with
    the next reference of ``batch_refs``; a reply that is itself in a batch (chathistory)
    keeps its own batch, whose BATCH lines join ours.
    """
    if label is None:
        return list(replies)
    if not replies:
        return [Message("ACK", (), None, {"label": label})]
    if len(replies) == 1 or batch_refs is None:
        return [replies[0].with_tags(label=label), *replies[1:]]
    batch = next(batch_refs)
    return [
        Message("BATCH", (f"+{batch}", "labeled-response"), None, {"label": label}),
        *(m if "batch" in m.tags else m.with_tags(batch=batch) for m in replies),
        Message("BATCH", (f"-{batch}",)),
    ]
