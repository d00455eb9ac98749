"""The SASL PLAIN exchange."""

from __future__ import annotations

import base64

from twistedchat.irc.sasl import Challenge, Credentials, Failure, Pending, PlainExchange
from twistedchat.wire import numerics as N


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_plain_in_one_chunk() -> None:
    exchange = PlainExchange()
    assert exchange.step("PLAIN") == Challenge()
    assert exchange.step(b64("\0alice\0secret pw")) == Credentials("alice", "secret pw")


def test_long_responses_come_in_400_byte_chunks() -> None:
    exchange = PlainExchange()
    exchange.step("PLAIN")
    response = b64("alice\0alice\0" + "p" * 400)
    chunks = [response[i : i + 400] for i in range(0, len(response), 400)]
    steps = [exchange.step(chunk) for chunk in chunks]
    if len(chunks[-1]) == 400:
        steps.append(exchange.step("+"))
    assert all(step == Pending() for step in steps[:-1])
    assert steps[-1] == Credentials("alice", "p" * 400)


def test_failures() -> None:
    exchange = PlainExchange()
    unknown = exchange.step("EXTERNAL")
    assert unknown == Failure(N.RPL_SASLMECHS, ("PLAIN", "are available SASL mechanisms"))
    assert isinstance(unknown, Failure)
    assert [code for code, _ in unknown.replies()] == [N.RPL_SASLMECHS, N.ERR_SASLFAIL]
    exchange.step("PLAIN")
    assert isinstance(exchange.step("not base64!"), Failure)
    exchange.step("PLAIN")
    assert exchange.step(b64("bob\0alice\0pw")).numeric == N.ERR_SASLFAIL  # type: ignore[union-attr]
    exchange.step("PLAIN")
    assert exchange.step("*").numeric == N.ERR_SASLABORTED  # type: ignore[union-attr]
    exchange.step("PLAIN")
    for _ in range(11):  # 4400 bytes in all, over the 4096 allowed
        step = exchange.step("A" * 400)
    assert step == Failure(N.ERR_SASLTOOLONG, ("SASL message too long",))
