"""Majority arithmetic over a configuration's voters (learners never count).

Kept apart from the core so that every "a majority of servers" in the paper (elections in
section 5.2, commitment in 5.3/5.4, check-quorum and ReadIndex in the dissertation's 6.2 and
6.4) is the same few lines.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping


class VoteResult(enum.Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


def majority(voters: Collection[str]) -> int:
    return len(voters) // 2 + 1


def has_quorum(voters: Collection[str], agreeing: Collection[str]) -> bool:
    """Do the voters among ``agreeing`` form a majority? (Never with no voters at all.)"""
    return bool(voters) and sum(1 for v in voters if v in agreeing) >= majority(voters)


def committed_index(voters: Collection[str], match: Mapping[str, int]) -> int:
    """The highest index stored on a majority of voters (Figure 2, last rule for leaders)."""
    if not voters:
        return 0
    matched = sorted((match.get(v, 0) for v in voters), reverse=True)
    return matched[majority(voters) - 1]


def vote_result(voters: Collection[str], votes: Mapping[str, bool]) -> VoteResult:
    """Section 5.2: won with a majority of grants, lost once a majority refused."""
    granted = [v for v in voters if votes.get(v) is True]
    refused = [v for v in voters if votes.get(v) is False]
    if has_quorum(voters, granted):
        return VoteResult.WON
    if has_quorum(voters, refused):
        return VoteResult.LOST
    return VoteResult.PENDING
