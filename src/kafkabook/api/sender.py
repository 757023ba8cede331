"""A bound on how long kafkabook's producers retry NOT_ENOUGH_REPLICAS.

aiokafka treats NOT_ENOUGH_REPLICAS (and NOT_ENOUGH_REPLICAS_AFTER_APPEND) as retriable, as Kafka
does, and retries the batch until it expires (``request_timeout_ms``, 30 s here) or, with
idempotence on, forever. Behind a notebook cell that is a 30-second hang followed by a
misleading timeout, although the leader said at once that the ISR is below
min.insync.replicas, which only a broker coming back can fix. So kafkabook's producers keep
retrying it for `NOT_ENOUGH_REPLICAS_RETRY` seconds (long enough for a restarted follower
to rejoin the ISR) and then fail that batch with the broker's error, which carries the
partition. Every other error keeps aiokafka's retries: a leader moving during failover is
still retried until the batch expires.

>>> producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9092", acks="all")  # doctest: +SKIP
>>> bound_not_enough_replicas(producer)                                          # doctest: +SKIP
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from aiokafka.errors import NotEnoughReplicasAfterAppendError, NotEnoughReplicasError
from aiokafka.producer.sender import Sender, SendProduceReqHandler

# Seconds of NOT_ENOUGH_REPLICAS answers after which a batch fails. A follower that `broker
# start` brought back rejoins the ISR within about a second; a longer refusal needs a person.
NOT_ENOUGH_REPLICAS_RETRY = 2.0

REFUSALS = (NotEnoughReplicasError, NotEnoughReplicasAfterAppendError)

# When each batch was first refused. Keyed weakly: aiokafka drops batches once resolved.
_refused_since: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


class _ProduceHandler(SendProduceReqHandler):  # type: ignore[misc]
    def _can_retry(self, error: Exception, batch: Any) -> bool:
        if isinstance(error, REFUSALS):
            now = time.monotonic()
            since = _refused_since.setdefault(batch, now)
            if now - since >= NOT_ENOUGH_REPLICAS_RETRY:
                # Fail the batch here with an error that names its partition; aiokafka's own
                # failure() that follows leaves already-failed futures alone.
                refusal = type(error)()
                refusal.topic, refusal.partition = batch.tp.topic, batch.tp.partition
                batch.failure(exception=refusal)
                return False
        return bool(super()._can_retry(error, batch))


class _Sender(Sender):  # type: ignore[misc]
    async def _send_produce_req(self, node_id: int, batches: dict[Any, Any]) -> None:
        # aiokafka's own method, with our handler.
        handler = _ProduceHandler(self, batches)
        await handler.do(node_id)
        self._in_flight.remove(node_id)
        for tp in batches:
            self._muted_partitions.remove(tp)


def bound_not_enough_replicas(producer: Any) -> bool:
    """Make a not yet started ``AIOKafkaProducer`` give up NOT_ENOUGH_REPLICAS after
    `NOT_ENOUGH_REPLICAS_RETRY` seconds. False (and aiokafka's behaviour) if its internals
    are not the ones this was written for.
    """
    sender = getattr(producer, "_sender", None)
    if type(sender) is not Sender or not hasattr(sender, "_muted_partitions"):
        return False
    sender.__class__ = _Sender
    return True


async def abandon(producer: Any) -> None:
    """Stop ``producer`` without waiting for what the cluster has not acknowledged.

    ``AIOKafkaProducer.stop()`` first waits until every queued batch is delivered or expired,
    and a batch for a partition without a leader is retried for its whole request timeout.
    After a call has failed or timed out nobody waits for those batches, and they must not be
    written later behind the error. So the sender stops (requests already on the wire get
    their answer), the batches it had not sent fail, as aiokafka fails them when its sender
    dies, and then stop() has nothing to wait for.
    """
    import asyncio
    import contextlib

    from aiokafka.errors import KafkaTimeoutError

    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
        if not task.done():  # still waiting for a request in flight: stop waiting
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is not None:
        accumulator.fail_all(KafkaTimeoutError("dropped: the call that sent it failed"))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), 5.0)
