"""Pure ISR and high-watermark rules of a partition leader (no I/O, no clocks of its own).

>>> followers = {2: FollowerProgress(log_end_offset=10, last_caught_up_ms=1_000)}
>>> high_watermark(leader_id=1, leader_leo=12, isr=[1, 2], followers=followers)
10
>>> lagging_replicas([1, 2], leader_id=1, followers=followers, now_ms=7_000, max_lag_ms=5_000)
[2]
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class FollowerProgress:
    """What the leader knows of one follower from its fetches."""

    log_end_offset: int = 0
    last_caught_up_ms: int = 0
    last_fetch_ms: int = 0


def high_watermark(
    leader_id: int, leader_leo: int, isr: list[int], followers: dict[int, FollowerProgress]
) -> int:
    """The minimum log end offset over the ISR (the leader counts with its own LEO)."""
    hw = leader_leo
    for replica in isr:
        if replica != leader_id:
            progress = followers.get(replica)
            hw = min(hw, progress.log_end_offset if progress else 0)
    return hw


def caught_up_after_fetch(fetch_offset: int, leader_leo: int, leo_at_last_fetch: int) -> bool:
    """Kafka's rule: a follower is caught up if it fetched to the leader's end, or to where the
    leader's end was at its previous fetch (so a steady stream of appends can't starve it)."""
    return fetch_offset >= leader_leo or fetch_offset >= leo_at_last_fetch


def lagging_replicas(
    isr: list[int],
    leader_id: int,
    followers: dict[int, FollowerProgress],
    now_ms: int,
    max_lag_ms: int,
) -> list[int]:
    """ISR members that have not caught up for longer than replica.lag.time.max.ms."""
    out = []
    for replica in isr:
        if replica == leader_id:
            continue
        progress = followers.get(replica)
        if progress is None or now_ms - progress.last_caught_up_ms > max_lag_ms:
            out.append(replica)
    return out


def may_join_isr(follower_leo: int, high_watermark: int, leader_epoch_start: int) -> bool:
    """A follower rejoins once it reaches the high watermark and holds the current epoch's data."""
    return follower_leo >= high_watermark and follower_leo >= leader_epoch_start
