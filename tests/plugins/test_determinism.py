"""Two nodes applying the same entries through the same plugins end in the same state."""

from __future__ import annotations

import random

import pytest

from tests.plugins.helpers import PluginChat, host_with
from twistedchat.chat.command import TICK

NICKS = ("ann", "ben", "cat", "dan")
LINES = (
    "JOIN #a", "JOIN #b", "PART #a", "PRIVMSG #a :!ping", "PRIVMSG #b :!seen ann",
    "PRIVMSG #a :!remind 5s tea", "PRIVMSG #b :!remind 1m lunch", "PRIVMSG #a :!uptime",
    "PRIVMSG #a :hello", "PRIVMSG bot :!help", "PRIVMSG ChanServ :REGISTER #a",
    "PLUGIN #a DISABLE bots/ping", "PLUGIN #a ENABLE bots/ping", "HELPME #a :help",
    "PRIVMSG #a :!say hi", "NICK ChanServ",
)  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_plugins_are_deterministic_across_nodes(seed: int) -> None:
    rng = random.Random(seed)
    one = PluginChat(host_with("bots", "groups", "helpme"))
    two = PluginChat(host_with("bots", "groups", "helpme"))  # another node's own instances
    for nick in NICKS:
        one.connect(nick, nick)
    for _ in range(300):
        if rng.random() < 0.1:
            one.time += rng.randrange(0, 20_000)
            one.tick()
        else:
            one.time += rng.randrange(0, 3_000)
            one.send(rng.choice(NICKS), rng.choice(LINES))
    for index, command in one.log:  # the second node replays the same log
        assert two.state.apply(index, command) == one.delivered[index]
    assert two.state.snapshot() == one.state.snapshot()
    assert one.state.plugin_world().plugin_data["bots"]["seen"]
    assert any(c.message.command == TICK for _, c in one.log)
