"""The dashboard in a real browser on a real 3-node cluster: it asks for the status token,
shows the leader, and shows the new one (in a higher term) after the leader is killed."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import IRCClient, Node, make_cluster, wait_for
from tests.integration.harness import watched_processes as _watched_processes

TOKEN = "a-long-enough-dashboard-token"
#: The README's picture: written when missing or with UPDATE_SCREENSHOTS=1 (a run does
#: not dirty the work tree otherwise); build/screenshots/dashboard.png is always fresh.
README_PICTURE = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard.png"


@pytest.fixture(autouse=True)
def watched_processes() -> Iterator[list[Any]]:
    """Every node this test starts is stopped and checked when it ends."""
    with _watched_processes() as started:
        yield started


def authorized_status(node: Node) -> dict[str, Any] | None:
    request = urllib.request.Request(f"http://127.0.0.1:{node.status_port}/status",
                                     headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            document: dict[str, Any] = json.load(response)
            return document
    except OSError:
        return None


def agreed_leader(nodes: list[Node]) -> Node | None:
    """The node every live node says leads, once all of them know all the members."""
    live = [node for node in nodes if node.alive()]
    documents = [authorized_status(node) for node in live]
    if any(d is None or len(d["members"]) != len(nodes) for d in documents):
        return None
    leaders = {d["leader"] for d in documents if d is not None}
    if len(leaders) != 1:
        return None
    return next((node for node in live if node.node_id in leaders), None)


@pytest.mark.integration
def test_the_dashboard_follows_a_failover(
    tmp_path: Path, browser: Any, screenshot: Callable[[str], Path]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    token_file = tmp_path / "status.token"
    token_file.write_text(TOKEN + "\n")
    nodes = make_cluster(tmp_path, 3, ["--status-token-file", str(token_file)])
    for node in nodes:
        node.start()
    leader = wait_for(lambda: agreed_leader(nodes), 30, "a leader all nodes agree on")
    follower = next(node for node in nodes if node is not leader)
    talkers = [IRCClient(follower.irc_port, nick) for nick in ("ann", "bea")]
    for talker in talkers:
        talker.send("JOIN #dash")
        talker.expect(" 366 ")

    def talk(lines: int, what: str) -> None:
        """Two clients, each well within flood control (10 at once, then 2 a second)."""
        for i in range(lines):
            talkers[i % 2].send(f"PRIVMSG #dash :{what} {i}")
            time.sleep(0.2)

    def text(element_id: str) -> str:
        return str(browser.find_element(By.ID, element_id).text)

    def table(element_id: str) -> dict[str, str]:
        cells = browser.find_elements(By.CSS_SELECTOR, f"#{element_id} td")
        return {name.text: count.text for name, count in zip(cells[::2], cells[1::2], strict=True)}

    def shows(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
        WebDriverWait(browser, timeout, poll_frequency=0.1).until(lambda _: predicate(), what)

    browser.get(f"http://127.0.0.1:{follower.status_port}/dashboard")
    token = browser.find_element(By.ID, "token")
    shows(token.is_displayed, "the page to ask for the token")
    refused = [entry["message"] for entry in browser.get_log("browser")]
    assert any("401" in message for message in refused)  # this page's first look
    token.send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#token-form button").click()
    shows(lambda: text("leader") == leader.node_id, "the leader on the page")
    first_term = int(text("term"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#nodes tbody tr")
    assert {row.get_attribute("data-node") for row in rows} == {n.node_id for n in nodes}
    assert text("served-by") == follower.node_id
    talk(16, "before")  # something for the chart to draw
    shows(lambda: "now 0.0/s, peak 0" not in text("rate-now"), "the chart to show the messages")
    points = browser.find_element(By.ID, "rate-line").get_attribute("points") or ""
    assert len(points.split()) >= 2

    leader.kill()
    survivors = [node for node in nodes if node is not leader]
    shows(lambda: text("leader") in {n.node_id for n in survivors}, "a new leader on the page")
    shows(lambda: int(text("term")) > first_term, "a higher term on the page")
    dead = browser.find_element(By.CSS_SELECTOR, f'#nodes tr[data-node="{leader.node_id}"]')
    shows(lambda: "unreachable" in (dead.get_attribute("class") or ""), "the old leader greyed")
    talk(12, "after")  # the new leader commits these
    chat = {"clients here": "2", "channels": "1", "flood kills here": "0"}
    shows(lambda: chat.items() <= table("chat").items(), "both talkers still connected")
    time.sleep(2.1)  # the chart's next sample, for the picture
    picture = screenshot("dashboard")
    if os.environ.get("UPDATE_SCREENSHOTS") or not README_PICTURE.exists():  # not every run
        README_PICTURE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(picture, README_PICTURE)

    # The only errors the page logged are its fetches of the node that died.
    dead_port = f":{leader.status_port}/"
    errors = [entry["message"] for entry in browser.get_log("browser")
              if entry["level"] == "SEVERE" and dead_port not in entry["message"]]  # fmt: skip
    assert errors == []
    for talker in talkers:
        talker.close()
