"""Operator hashes: ``chatnode oper-hash`` prints a PHC string, ``--oper`` takes both formats."""

from __future__ import annotations

import io

import pytest
from twisted.python import usage

from tests.chat.test_passwords import legacy_hash
from twistedchat.chat.passwords import needs_rehash, verify_password
from twistedchat.node.options import ChatNodeOptions
from twistedchat.security import cli


def test_oper_hash_prints_a_current_phc_hash_of_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct-horse\n"))
    assert cli.main(["oper-hash"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$scrypt$ln=14,r=8,p=1$") and not needs_rehash(printed)
    assert verify_password("correct-horse", printed)


@pytest.mark.parametrize(
    "hashed",
    ["$scrypt$ln=14,r=8,p=1$c3Nzc3Nzc3Nzc3Nzc3Nzcw$bEFnG7zoJ37NQLHzLB4ppMG5vuENLUbzLcz0Uovedkg",
     legacy_hash("correct-horse")],
)  # fmt: skip
def test_oper_option_takes_new_and_old_hashes(hashed: str) -> None:
    options = ChatNodeOptions()
    options.opt_oper(f"root:{hashed}")
    assert options["oper"] == [("root", hashed)]


@pytest.mark.parametrize(
    "entry", ["root", "root:", ":$scrypt$ln=14,r=8,p=1$c2FsdA$aGFzaA", "root:hunter2",
              "root:$scrypt$ln=40,r=8,p=1$c2FsdA$aGFzaA", "root:scrypt$zz$zz"],
)  # fmt: skip
def test_oper_option_refuses_what_is_not_a_hash(entry: str) -> None:
    with pytest.raises(usage.UsageError, match="NAME:HASH"):
        ChatNodeOptions().opt_oper(entry)
