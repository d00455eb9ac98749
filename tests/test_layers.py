"""The folders are layers: each may import only the ones below it.

Read from the source with :mod:`ast`, so a forbidden import fails here even
when nothing exercises the code path that makes it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "twistedchat"

#: What neither the chat core nor the wire layer may import: the layers above them, the
#: Raft log beside them, and Twisted.
NOT_FOR_THE_CORE = (
    "twisted",
    "twistedchat.irc",
    "twistedchat.node",
    "twistedchat.raft",
    "twistedchat.gateway",
    "twistedchat.client",
    "twistedchat.discovery",
)
# folder -> the top-level imports it must never make
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "wire": (*NOT_FOR_THE_CORE, "twistedchat.chat"),
    "chat": (*NOT_FOR_THE_CORE, "socket", "time"),
    "raft": ("twistedchat.chat", "twistedchat.irc", "twistedchat.node", "twistedchat.gateway"),
    "discovery": ("twistedchat.chat", "twistedchat.irc", "twistedchat.raft", "twistedchat.node"),
    # The web endpoint carries IRC connections it is given; it knows no chat or cluster.
    "web": ("twistedchat.chat", "twistedchat.raft", "twistedchat.node", "twistedchat.discovery"),
}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute names only."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violates(module: str, forbidden: str) -> bool:
    return module == forbidden or module.startswith(forbidden + ".")


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(folder: str) -> None:
    sources = sorted((PACKAGE / folder).rglob("*.py"))
    assert sources, folder
    bad = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in sources
        for module in sorted(imports_of(path))
        if any(violates(module, forbidden) for forbidden in FORBIDDEN[folder])
    ]
    assert bad == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text("from twistedchat.irc import protocol\nimport twisted.internet\n")
    modules = imports_of(source)
    assert any(violates(m, "twistedchat.irc") for m in modules)
    assert any(violates(m, "twisted") for m in modules)
    assert not violates("twistedchat.ircx", "twistedchat.irc")
