"""Real IRC clients from Debian, irssi and WeeChat, against a real 3-node cluster.

Each client connects to node 0; the raw users it meets (harness ``IRCClient``) are on
node 1, and carol, whom it monitors, comes and goes on node 2, so what a client sees has
gone through the replicated log. Per client: it joins a channel whose op is a raw user
and shows the nick list with its prefixes, shows a raw user's away change and makes its
own seen, and tells when a monitored nick comes online and goes offline (IRCv3 MONITOR).
irssi runs on a pseudo-terminal (``tests/integration/terminal.py``), WeeChat headless in
tmux (``tests/integration/weechat.py``); both are read through their own logs of what
they print. A test skips when its client is not installed (``.ci/run`` installs them).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration import weechat
from tests.integration.harness import IRCClient, Node, wait_for
from tests.integration.terminal import Terminal, start_irssi
from tests.integration.weechat import WeeChat, start_weechat

CHANNEL = "#debian"

#: Checked before any node starts.
needs_irssi = pytest.mark.skipif(
    shutil.which("irssi") is None, reason="irssi is not installed (.ci/run installs it with apt)"
)
needs_weechat = pytest.mark.skipif(
    not weechat.installed(),
    reason="weechat-headless, weechat-plugins or tmux is not installed (.ci/run installs them)",
)


@pytest.fixture
def nodes(cluster_factory: Callable[..., list[Node]]) -> list[Node]:
    return cluster_factory(3)


@pytest.fixture
def irssi(nodes: list[Node], tmp_path: Path) -> Iterator[Terminal]:
    client = start_irssi(tmp_path / "irssi-home", nodes[0].irc_port)
    try:
        client.wait_shown("Welcome to the Internet Relay Network irssiuser!", 20)
        yield client
    finally:
        client.stop()


@pytest.fixture
def wee(nodes: list[Node], tmp_path: Path) -> Iterator[WeeChat]:
    client = start_weechat(tmp_path / "weechat-home", nodes[0].irc_port)
    try:
        client.wait_shown(SERVER_BUFFER, "Welcome to the Internet Relay Network weeuser!", 20)
        yield client
    finally:
        client.stop()


@pytest.fixture
def channel(nodes: list[Node]) -> Iterator[dict[str, IRCClient]]:
    """On node 1: bob made ``CHANNEL`` (op, and hears away changes: away-notify), dave
    has voice, erin has op and voice (shown as ``@+erin`` to clients with multi-prefix)."""
    port = nodes[1].irc_port
    users: dict[str, IRCClient] = {}
    try:
        users["bob"] = IRCClient(port, "bob", caps=["away-notify"])
        users["dave"] = IRCClient(port, "dave")
        users["erin"] = IRCClient(port, "erin")
        for user in users.values():
            user.send(f"JOIN {CHANNEL}")
            user.expect(" 366 ")
        bob = users["bob"]
        bob.send(f"MODE {CHANNEL} +v dave")
        bob.expect(f"MODE {CHANNEL} +v dave")
        bob.send(f"MODE {CHANNEL} +ov erin erin")
        bob.expect(f"MODE {CHANNEL} +ov erin erin")
        yield users
    finally:
        for user in users.values():
            user.close()


def whois_away(user: IRCClient, nick: str) -> str | None:
    """``user``'s WHOIS of ``nick``: its away message (301), or None."""
    user.send(f"WHOIS {nick}")
    away = None
    while True:
        line = user.expect(" 301 ", " 318 ")
        if " 318 " in line:
            return away
        away = line.split(" :", 1)[1]


# -- WeeChat -------------------------------------------------------------------------------

SERVER_BUFFER = f"irc.server.{weechat.SERVER}"
CHANNEL_BUFFER = f"irc.{weechat.SERVER}.{CHANNEL}"


def weechat_nicklist(client: WeeChat, groups: int = 3, per_group: int = 4) -> list[str]:
    """The nick list WeeChat keeps beside the channel (what its curses screen draws): its
    groups in order (one per prefix mode, then the rest), each nick as prefix+name, away
    nicks marked ``(away)`` (WeeChat draws those in ``weechat.color.nicklist_away``)."""
    root = "${buffer.nicklist_root.children"
    fields = ["${buffer.nicklist_nicks_count}"]
    for g in range(groups):
        group = root + ".next_group" * g
        for n in range(per_group):
            nick = f"{group}.nicks{'.next_nick' * n}"
            fields.append(f"{nick}.prefix}}{nick}.name}}/{nick}.color}}")
    count, *entries = client.eval(",".join(fields), CHANNEL_BUFFER).split(",")
    shown = []
    for entry in entries:
        name, _, color = entry.partition("/")
        if name.strip():  # a normal nick's prefix is a space
            away = color == "weechat.color.nicklist_away"
            shown.append(name.strip() + (" (away)" if away else ""))
    assert len(shown) == int(count), f"read {shown} of WeeChat's {count} nicks: read more"
    return shown


def weechat_nick(client: WeeChat, nick: str, most: int = 6) -> dict[str, str]:
    """What WeeChat's IRC plugin knows of ``nick`` in ``CHANNEL``: its prefixes (one
    column per PREFIX mode, as multi-prefix gives them) and away flag."""
    channel = "${irc_server[irc_servers].channels"
    names = ["name", "prefixes", "away"]
    fields = [f"{channel}.name}}", f"{channel}.nicks_count}}"]
    for n in range(most):
        path = f"{channel}.nicks{'.next_nick' * n}"
        fields.append("|".join(f"{path}.{name}}}" for name in names))
    name, count, *entries = client.eval(";".join(fields)).split(";")
    assert name == CHANNEL, f"WeeChat's first channel is {name!r}"
    assert int(count) <= most, f"WeeChat has {count} nicks in {CHANNEL}: read more"
    for entry in entries:
        known = dict(zip(names, entry.split("|"), strict=True))
        if known["name"] == nick:
            return known
    raise AssertionError(f"WeeChat has no {nick} in {CHANNEL}: {entries}")


@needs_weechat
def test_weechat_joins_shows_prefixes_and_away_changes(
    nodes: list[Node], channel: dict[str, IRCClient], wee: WeeChat
) -> None:
    caps = wee.messages(SERVER_BUFFER)[wee.wait_shown(SERVER_BUFFER, "capability, enabled:")]
    for cap in ("multi-prefix", "userhost-in-names", "away-notify"):
        assert cap in caps.split(": ", 1)[1].split(), caps
    bob, dave = channel["bob"], channel["dave"]
    dave.send("AWAY :in a meeting")
    dave.expect(" 306 ")

    wee.command(f"/join {CHANNEL}")
    bob.expect(f":weeuser!~weeuser@127.0.0.1 JOIN {CHANNEL}")
    counted = wee.wait_shown(CHANNEL_BUFFER, f"Channel {CHANNEL}: ")
    shown = wee.messages(CHANNEL_BUFFER)
    assert shown[counted] == f"Channel {CHANNEL}: 4 nicks (2 ops, 1 voice, 1 normal)"
    assert f"Nicks {CHANNEL}: [@bob @erin +dave weeuser]" in shown
    # WeeChat saw no MODE for erin, and its join-time WHO sets no prefixes (without
    # multi-prefix it keeps "@ "): both are NAMES's, with multi-prefix. (Her host proves
    # nothing of userhost-in-names: that WHO gives hosts too.)
    assert weechat_nick(wee, "erin")["prefixes"] == "@+"
    # dave was away before WeeChat came: it asks WHO on joining, and greys him.
    wanted = ["@bob", "@erin", "+dave (away)", "weeuser"]
    wait_for(lambda: weechat_nicklist(wee) == wanted, 10, f"WeeChat's nick list {wanted}", 0.2)

    # bob goes away: away-notify tells WeeChat, which greys him too.
    bob.send("AWAY :out to lunch")
    bob.expect(" 306 ")
    wait_for(lambda: weechat_nick(wee, "bob")["away"] == "1", 10, "WeeChat to mark bob away", 0.2)
    assert weechat_nicklist(wee) == ["@bob (away)", "@erin", "+dave (away)", "weeuser"]
    wee.command("/whois bob")
    end = wee.wait_shown(SERVER_BUFFER, "[bob] End of /WHOIS list")
    whois = [m for m in wee.messages(SERVER_BUFFER)[: end + 1] if m.startswith("[bob] ")]
    assert "[bob] is away: out to lunch" in whois
    # 312, shown as "[bob] server (server info)": bob's own node, not WeeChat's.
    bobs_server = next(line for line in bob.lines if " 001 " in line).split()[0][1:]
    servers = [m[1] for m in map(re.compile(r"\[bob\] ([^(\s]\S*) \(.*\)$").match, whois) if m]
    assert servers == [bobs_server], whois
    bob.send("AWAY")
    bob.expect(" 305 ")
    wait_for(lambda: weechat_nick(wee, "bob")["away"] == "0", 10, "WeeChat to see bob back", 0.2)
    assert weechat_nicklist(wee) == ["@bob", "@erin", "+dave (away)", "weeuser"]

    # WeeChat's user goes away: bob hears it (away-notify) and WHOIS says so.
    wee.command("/away gone fishing")
    bob.expect(":weeuser!~weeuser@127.0.0.1 AWAY :gone fishing")
    wee.wait_shown(SERVER_BUFFER, "You have been marked as being away")
    assert whois_away(bob, "weeuser") == "gone fishing"
    wee.command("/away")
    assert bob.expect(":weeuser!") == ":weeuser!~weeuser@127.0.0.1 AWAY"
    wee.wait_shown(SERVER_BUFFER, "You are no longer marked as being away")
    assert whois_away(bob, "weeuser") is None


@needs_weechat
def test_weechat_notify_list_uses_monitor(nodes: list[Node], wee: WeeChat) -> None:
    # WeeChat switches its notify list from ISON polling to MONITOR when 005 offers it.
    assert wee.eval("${irc_server[irc_servers].monitor}") == "100"
    wee.command("/set irc.network.notify_check_ison 10080")  # a week: no ISON poll in time
    wee.command("/notify add carol")
    wee.wait_shown(SERVER_BUFFER, "notify: carol is offline")
    carol = IRCClient(nodes[2].irc_port, "carol")
    try:
        online = wee.wait_shown(SERVER_BUFFER, "notify: carol (~carol@127.0.0.1) has connected")
        carol.send("QUIT :bye")
        wee.wait_shown(SERVER_BUFFER, "notify: carol has quit", after=online)
    finally:
        carol.close()


# -- irssi ---------------------------------------------------------------------------------


def irssi_names(line: str) -> list[str]:
    """irssi's ``[@bob ] [+dave] [ irssiuser]`` as ``["@bob", "+dave", "irssiuser"]``."""
    return [prefix.strip() + nick for prefix, nick in re.findall(r"\[(.)(\S+?)\s*\]", line)]


@needs_irssi
def test_irssi_joins_shows_prefixes_and_away_changes(
    nodes: list[Node], channel: dict[str, IRCClient], irssi: Terminal
) -> None:
    caps = irssi.shown()[irssi.wait_shown("Capabilities acknowledged:")]
    for cap in ("multi-prefix", "away-notify"):
        assert cap in caps.split(": ", 1)[1].split(), caps
    bob = channel["bob"]

    irssi.type(f"/join {CHANNEL}")
    bob.expect(f":irssiuser!~irssitest@127.0.0.1 JOIN {CHANNEL}")
    users = irssi.wait_shown(f"[Users {CHANNEL}]")
    total = irssi.wait_shown(f"{CHANNEL}: Total of 4 nicks", after=users)
    shown = irssi.shown()
    assert "[2 ops, 0 halfops, 1 voices, 1 normal]" in shown[total]
    names = [nick for line in shown[users + 1 : total] for nick in irssi_names(line)]
    assert sorted(names) == ["+dave", "@bob", "@erin", "irssiuser"]

    bob.send("AWAY :out to lunch")
    bob.expect(" 306 ")
    irssi.type("/whois bob")
    whois = irssi.wait_shown("bob [~bob@127.0.0.1]")
    away = irssi.wait_shown(" away ", after=whois)
    assert irssi.shown()[away].split(":", 1)[1].strip() == "out to lunch"

    irssi.type("/away gone fishing")
    bob.expect(":irssiuser!~irssitest@127.0.0.1 AWAY :gone fishing")
    irssi.wait_shown("You have been marked as being away")
    assert whois_away(bob, "irssiuser") == "gone fishing"


@needs_irssi
def test_irssi_shows_monitor_replies(nodes: list[Node], irssi: Terminal) -> None:
    # irssi has no MONITOR of its own: it prints the numerics it does not know, 731
    # (offline) as the nick and 730 (online) as nick!user@host.
    start = len(irssi.shown())
    irssi.type("/quote MONITOR + carol")
    offline = irssi.wait_shown("-!- carol", after=start)
    assert irssi.shown()[offline] == "-!- carol"
    carol = IRCClient(nodes[2].irc_port, "carol")
    try:
        online = irssi.wait_shown("-!- carol!~carol@127.0.0.1", after=offline + 1)
        carol.send("QUIT :bye")
        gone = irssi.wait_shown("-!- carol", after=online + 1)
        assert irssi.shown()[gone] == "-!- carol"
    finally:
        carol.close()
