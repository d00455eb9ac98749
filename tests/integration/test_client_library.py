"""A bot written with a real IRC client library (Twisted Words) against a real node."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import defer, endpoints, reactor
from twisted.internet.protocol import Factory
from twisted.internet.threads import deferToThread
from twisted.words.protocols import irc

from tests.integration.harness import IRCClient, Node


class EchoBot(irc.IRCClient):
    """Joins #bots and answers every message with its upper-cased text."""

    nickname = "echobot"

    def __init__(self, in_channel: defer.Deferred[None]) -> None:
        self.in_channel = in_channel

    def signedOn(self) -> None:
        self.join("#bots")

    def joined(self, channel: str) -> None:
        self.in_channel.callback(None)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        target = channel if channel.startswith("#") else user.split("!")[0]
        self.msg(target, message.upper())


@pytest_twisted.ensureDeferred
async def test_twisted_words_bot_chats_in_a_channel_and_privately(single_node: Node) -> None:
    in_channel: defer.Deferred[None] = defer.Deferred()
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", single_node.irc_port)
    bot = await endpoint.connect(Factory.forProtocol(lambda: EchoBot(in_channel)))
    human = IRCClient(single_node.irc_port, "human")
    try:
        await in_channel
        # The human's client blocks, so it runs in a thread while the reactor serves the bot.
        human.send("JOIN #bots")
        await deferToThread(human.expect, " 366 ")
        human.send("PRIVMSG #bots :hello bot")
        line = await deferToThread(human.expect, "PRIVMSG #bots")
        assert line.startswith(":echobot!") and line.endswith(":HELLO BOT")
        human.send("PRIVMSG echobot :psst")
        line = await deferToThread(human.expect, "PRIVMSG human")
        assert line.endswith(":PSST")
    finally:
        human.close()
        bot.transport.loseConnection()
