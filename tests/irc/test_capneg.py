"""Capability negotiation as a plain object (the node's and the gateway's connections share it)."""

from __future__ import annotations

from twistedchat.irc.capneg import CapNegotiation
from twistedchat.wire.grammar import serialize


def test_values_and_cap_notify_only_for_cap_302_clients() -> None:
    old, new = CapNegotiation({"sasl": "PLAIN", "batch": ""}), CapNegotiation({"sasl": "PLAIN"})
    assert old.handle(["LS"], "*", registered=False)[0].params == ("*", "LS", "batch sasl")
    assert new.handle(["LS", "302"], "*", registered=False)[0].params[2] == "sasl=PLAIN"
    assert "cap-notify" in new.caps and "cap-notify" not in old.caps


def test_registration_waits_from_ls_until_end() -> None:
    neg = CapNegotiation({"batch": ""})
    neg.handle(["LS", "302"], "*", registered=False)
    assert neg.negotiating
    assert neg.handle(["END"], "*", registered=False) == [] and not neg.negotiating


def test_a_request_is_all_or_nothing_and_can_remove() -> None:
    neg = CapNegotiation({"batch": "", "echo-message": ""})
    nak = neg.handle(["REQ", "batch unknown-cap"], "n", registered=True)[0]
    assert nak.params == ("n", "NAK", "batch unknown-cap") and neg.caps == set()
    neg.handle(["REQ", "batch echo-message"], "n", registered=True)
    neg.handle(["REQ", "-batch"], "n", registered=True)
    assert neg.caps == {"echo-message"}
    assert neg.handle(["LIST"], "n", registered=True)[0].params == ("n", "LIST", "echo-message")
    assert not neg.negotiating  # a registered client is never held


def test_unknown_subcommand_and_caller_tokens() -> None:
    neg = CapNegotiation({})
    assert neg.handle(["BOGUS"], "n", registered=True)[0].command == "410"
    reply = neg.handle(["LS", "302"], "n", True, lambda version: [f"sts=port={version}"])
    assert reply[0].params[2] == "sts=port=302"


def test_odd_versions_and_cap_notify_for_302_clients() -> None:
    neg = CapNegotiation({"cap-notify": ""})
    neg.handle(["LS", "²"], "*", registered=False)  # isdigit() but not a number int() reads
    assert neg.version == 0
    neg.handle(["LS", "9" * 50], "*", registered=False)
    assert neg.version == 999
    assert neg.handle(["REQ", "-cap-notify"], "*", registered=False)[0].params[1] == "ACK"
    assert "cap-notify" in neg.caps  # CAP 302 implies it for good


def test_a_long_capability_list_takes_several_lines_marked_with_a_star() -> None:
    offered = {f"vendor.example/capability-{i:02d}": "some=value" for i in range(30)}
    negotiation = CapNegotiation(offered)
    lines = negotiation.handle(["LS", "302"], "*", registered=False)
    assert len(lines) > 1
    assert all(m.params[:3] == ("*", "LS", "*") for m in lines[:-1])
    assert lines[-1].params[:2] == ("*", "LS") and len(lines[-1].params) == 3
    tokens = [t for m in lines for t in m.params[-1].split(" ")]
    assert tokens == negotiation.ls_tokens()
    assert all(len(serialize(m, "irc.test")) <= 512 for m in lines)
