"""Replica placement: where the replicas of new partitions go, and checks of given assignments.

All functions are pure. Placement follows Kafka's rack-unaware algorithm (``AdminUtils``): with
the live brokers sorted by id, partition ``p``'s first replica is the broker at
``(p + start) % n``; the other replicas follow it at a distance ``1 + (shift + j) % (n - 1)``, and
the shift grows by one every ``n`` partitions. ``start`` and the initial ``shift`` are random, so
that many small topics do not all pile their leaders onto the lowest broker id, while the
leaders of one topic's partitions still spread evenly across the brokers.

>>> assign_replicas([1, 2, 3], num_partitions=3, replication_factor=2, fixed_start_index=0)
[[1, 2], [2, 3], [3, 1]]
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from typing import Any


class PlacementError(Exception):
    """A placement request Kafka would refuse: ``error`` is the Kafka error name.

    >>> PlacementError("INVALID_PARTITIONS", "no").error
    'INVALID_PARTITIONS'
    """

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def _replica_index(first: int, shift: int, j: int, n: int) -> int:
    # The (j+1)-th follower sits 1 + (shift + j) % (n - 1) brokers after the first replica,
    # which can never wrap around onto the first replica itself.
    return (first + 1 + (shift + j) % (n - 1)) % n


def assign_replicas(
    broker_ids: Collection[int],
    num_partitions: int,
    replication_factor: int,
    *,
    rng: random.Random | None = None,
    fixed_start_index: int | None = None,
    start_partition_id: int = 0,
) -> list[list[int]]:
    """Kafka's rack-unaware assignment of ``num_partitions`` partitions over ``broker_ids``.

    Returns one replica list per partition, starting with partition ``start_partition_id``;
    each list's first broker is the preferred leader. ``fixed_start_index`` (as Kafka uses when
    adding partitions) fixes both the start index and the initial shift; otherwise both are
    drawn from ``rng`` (a fresh ``random.Random()`` when omitted).

    >>> assign_replicas([3, 1, 2], 4, 3, fixed_start_index=1)
    [[2, 1, 3], [3, 2, 1], [1, 3, 2], [2, 3, 1]]
    """
    brokers = sorted(set(broker_ids))
    n = len(brokers)
    if num_partitions <= 0:
        raise PlacementError("INVALID_PARTITIONS", "Number of partitions must be larger than 0.")
    check_replication_factor(replication_factor, n)
    if fixed_start_index is not None and fixed_start_index >= 0:
        start = shift = fixed_start_index % n
    else:
        rng = rng or random.Random()
        start = rng.randrange(n)
        shift = rng.randrange(n)
    result: list[list[int]] = []
    partition = max(0, start_partition_id)
    for _ in range(num_partitions):
        # Every full round over the brokers, move the followers one step further away so that
        # partitions with the same leader do not all have the same followers.
        if partition > 0 and partition % n == 0:
            shift += 1
        first = (partition + start) % n
        replicas = [brokers[first]]
        replicas.extend(
            brokers[_replica_index(first, shift, j, n)] for j in range(replication_factor - 1)
        )
        result.append(replicas)
        partition += 1
    return result


def check_replication_factor(replication_factor: int, live_brokers: int) -> None:
    """Raise ``INVALID_REPLICATION_FACTOR`` unless ``replication_factor`` can be placed.

    The message is Kafka's, prefix included, because users search for it.

    >>> check_replication_factor(3, 2)
    Traceback (most recent call last):
    ...
    kafkabook.broker.controller.placement.PlacementError: Unable to replicate the partition \
3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are \
registered.
    """
    prefix = f"Unable to replicate the partition {replication_factor} time(s): "
    if replication_factor <= 0:
        raise PlacementError(
            "INVALID_REPLICATION_FACTOR",
            "Replication factor must be larger than 0, or -1 to use the default value.",
        )
    if live_brokers == 0:
        raise PlacementError(
            "INVALID_REPLICATION_FACTOR", prefix + "All brokers are currently fenced."
        )
    if replication_factor > live_brokers:
        raise PlacementError(
            "INVALID_REPLICATION_FACTOR",
            prefix
            + f"The target replication factor of {replication_factor} cannot be reached because "
            f"only {live_brokers} broker(s) are registered.",
        )


def _invalid(message: str) -> PlacementError:
    return PlacementError("INVALID_REPLICA_ASSIGNMENT", message)


def validate_assignment(
    assignment: Sequence[Sequence[int]],
    registered: Collection[int],
    live: Collection[int],
    *,
    replication_factor: int | None = None,
    first_partition: int = 0,
) -> None:
    """Check an explicit (manual) replica assignment; raise ``INVALID_REPLICA_ASSIGNMENT``.

    ``assignment[i]`` is the replica list of partition ``first_partition + i``. Every list must
    be non-empty, name each broker once, name only ``registered`` brokers, contain at least one
    ``live`` broker (someone has to lead), and have the same length as the others and as
    ``replication_factor`` when given (the existing partitions' size, for CreatePartitions).

    >>> validate_assignment([[1, 2], [2, 1]], registered={1, 2}, live={1, 2})
    >>> validate_assignment([[1, 1]], registered={1}, live={1})
    Traceback (most recent call last):
    ...
    kafkabook.broker.controller.placement.PlacementError: The manual partition assignment \
includes the broker 1 more than once.
    """
    expected = replication_factor
    for i, replicas in enumerate(assignment):
        partition = first_partition + i
        if not replicas:
            raise _invalid("The manual partition assignment includes an empty replica list.")
        seen: set[int] = set()
        for broker in replicas:
            if broker in seen:
                raise _invalid(
                    f"The manual partition assignment includes the broker {broker} more than once."
                )
            seen.add(broker)
            if broker not in registered:
                raise _invalid(
                    f"The manual partition assignment includes broker {broker}, but no such "
                    "broker is registered."
                )
        if expected is None:
            expected = len(replicas)
        elif len(replicas) != expected:
            raise _invalid(
                f"The manual partition assignment includes a partition with {len(replicas)} "
                f"replica(s), but this is not consistent with previous partitions, which have "
                f"{expected} replica(s)."
            )
        if not any(broker in live for broker in replicas):
            raise _invalid(
                "All brokers specified in the manual partition assignment for partition "
                f"{partition} are fenced or in controlled shutdown."
            )


def normalize_assignments(
    entries: Sequence[Any] | Mapping[Any, Any], *, indexed: bool
) -> list[list[int]]:
    """Turn RPC assignment entries into replica lists, ordered by partition.

    ``entries`` is a list whose items are lists of broker ids or ``{"broker_ids": [...]}``;
    for CreateTopics (``indexed=True``) an item may also carry ``partition_index``, or
    ``entries`` may be a mapping ``{partition_index: broker_ids}`` (JSON turns the keys into
    strings). The indexes must be exactly ``0..n-1``, as Kafka requires.

    >>> normalize_assignments([{"partition_index": 1, "broker_ids": [2]},
    ...                        {"partition_index": 0, "broker_ids": [1]}], indexed=True)
    [[1], [2]]
    >>> normalize_assignments([[3, 1], [1, 3]], indexed=False)
    [[3, 1], [1, 3]]
    >>> normalize_assignments({"1": [2], "0": [1]}, indexed=True)
    [[1], [2]]
    """
    if isinstance(entries, Mapping):
        if not indexed:
            raise PlacementError("INVALID_REQUEST", "Assignments must be a list.")
        try:
            entries = [{"partition_index": int(k), "broker_ids": v} for k, v in entries.items()]
        except ValueError:
            raise PlacementError("INVALID_REQUEST", "Partition indexes must be integers.") from None
    by_index: dict[int, list[int]] = {}
    for position, entry in enumerate(entries):
        if isinstance(entry, Mapping):
            brokers = entry.get("broker_ids")
            index = entry.get("partition_index", position) if indexed else position
        else:
            brokers, index = entry, position
        if not isinstance(brokers, list) or not all(
            isinstance(b, int) and not isinstance(b, bool) for b in brokers
        ):
            raise PlacementError(
                "INVALID_REQUEST", f"Malformed replica assignment entry {entry!r}."
            )
        if not isinstance(index, int) or index in by_index:
            raise _invalid(
                f"The manual partition assignment includes the partition {index} more than once."
            )
        by_index[index] = list(brokers)
    if sorted(by_index) != list(range(len(by_index))):
        missing = min(set(range(len(by_index))) - set(by_index))
        raise _invalid(
            "The manual partition assignment does not assign partition "
            f"{missing}: partition indexes must be contiguous from 0."
        )
    return [by_index[i] for i in range(len(by_index))]


def place_new_topic(
    num_partitions: int,
    replication_factor: int,
    live_brokers: Collection[int],
    *,
    rng: random.Random | None = None,
) -> list[list[int]]:
    """Assign the partitions of a new topic over the live brokers (no defaults applied here).

    >>> place_new_topic(2, 1, [5], rng=random.Random(0))
    [[5], [5]]
    """
    if num_partitions <= 0:
        raise PlacementError(
            "INVALID_PARTITIONS", "Number of partitions was set to an invalid non-positive value."
        )
    check_replication_factor(replication_factor, len(live_brokers))
    return assign_replicas(live_brokers, num_partitions, replication_factor, rng=rng)


def place_additional_partitions(
    existing: Sequence[Sequence[int]],
    new_count: int,
    live_brokers: Collection[int],
) -> list[list[int]]:
    """Replica lists for partitions ``len(existing) .. new_count - 1`` of an existing topic.

    As Kafka does when adding partitions: the replication factor is partition 0's, and the
    start index is the position of partition 0's preferred leader among the sorted live brokers,
    so the new partitions continue the existing round-robin rather than restart it.

    >>> place_additional_partitions([[1, 2], [2, 3], [3, 1]], 5, [1, 2, 3])
    [[1, 3], [2, 1]]
    """
    current = len(existing)
    if new_count <= current:
        raise PlacementError("INVALID_PARTITIONS", f"Topic already has {current} partition(s).")
    brokers = sorted(set(live_brokers))
    replication_factor = len(existing[0]) if existing else 1
    check_replication_factor(replication_factor, len(brokers))
    first_leader = existing[0][0] if existing and existing[0] else brokers[0]
    start = next((i for i, b in enumerate(brokers) if b >= first_leader), 0)
    return assign_replicas(
        brokers,
        new_count - current,
        replication_factor,
        fixed_start_index=start,
        start_partition_id=current,
    )
