"""Every hook is documented, with its exact signature, in the plugin author's guide."""

from __future__ import annotations

import inspect
from pathlib import Path

from twistedchat import hookspecs

GUIDE = Path(__file__).parents[2] / "docs" / "plugins.md"


def signature(function: object) -> str:
    """``name(arg: Type, ...) -> Return`` from the annotations as written in hookspecs."""
    annotations = dict(getattr(function, "__annotations__", {}))
    returns = annotations.pop("return")
    params = ", ".join(f"{name}: {kind}" for name, kind in annotations.items())
    return f"{getattr(function, '__name__', '')}({params}) -> {returns}"


def test_every_hook_is_documented_with_its_signature() -> None:
    guide = GUIDE.read_text()
    hooks = [f for name, f in inspect.getmembers(hookspecs) if name.startswith("chat_")]
    assert len(hooks) >= 10
    missing = [signature(f) for f in hooks if f"`{signature(f)}`" not in guide]
    assert missing == []
