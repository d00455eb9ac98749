"""Wildcard matching and ban mask completion."""

from __future__ import annotations

import time

import pytest

from twistedchat.chat.masks import glob_match, normalize_ban


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*", "", True),
        ("*", "anything", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("*!*@*.example", "nick!user@host.example", True),
        ("*!*@*.example", "nick!user@example", False),
        ("n*k!*", "nick!u@h", True),
        ("abc", "abcd", False),
        ("abc*", "abc", True),
        ("*a*b", "xaxxb", True),
        ("*a*b", "xaxxbc", False),
        ("[x]*", "{X}yz", True),
        ("a\\b", "A|B", True),
        ("a~b", "A^B", True),
    ],
)
def test_glob_match(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


def test_hostile_pattern_is_not_exponential() -> None:
    started = time.perf_counter()
    assert not glob_match("*a" * 60 + "b", "a" * 128)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("mask", "full"),
    [
        ("nick", "nick!*@*"),
        ("user@host", "*!user@host"),
        ("nick!user", "nick!user@*"),
        ("nick!user@host", "nick!user@host"),
        ("!@", "*!*@*"),
        ("a@b@c", "*!a@b@c"),
    ],
)
def test_normalize_ban(mask: str, full: str) -> None:
    assert normalize_ban(mask) == full
