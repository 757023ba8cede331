"""Produce (key 0): v3-12.

Behavior: each partition's records must be exactly one record batch v2 with a valid CRC, at most
max.message.bytes long; the leader stores it as sent, assigning offsets by patching its header.
acks=0 sends no response; acks=1 answers after the leader's append; acks=-1 checks the ISR
against min.insync.replicas first (NOT_ENOUGH_REPLICAS) and answers once the high watermark
passes the batch, with REQUEST_TIMED_OUT or NOT_ENOUGH_REPLICAS_AFTER_APPEND otherwise.
Idempotent producers' batches are checked against the partition's producer state: a retry of
one of the last five batches gets its original offset back, a stale epoch INVALID_PRODUCER_EPOCH,
a sequence gap OUT_OF_ORDER_SEQUENCE_NUMBER.
Version notes: transactional batches are refused (INVALID_TXN_STATE) until transactions exist;
LogAppendTime topics keep the producer's timestamps (docs/differences.md).
"""

from __future__ import annotations

import asyncio
import time

from ...protocol.errors import ErrorCode
from .. import records
from ..replica import ProduceRejected
from . import api, leader_hint, node_endpoints

VALID_ACKS = (-1, 0, 1)


def _timestamp_error(broker, topic: str, data: bytes) -> tuple[str, list[dict]] | None:
    """CreateTime records outside message.timestamp.{before,after}.max.ms of now (Kafka 4
    refuses records more than an hour in the future by default). The header's timestamps
    decide; only a refused batch is decoded, to name its first offending record."""
    header = records.parse_header(data)
    if header.timestamp_type != records.TimestampType.CREATE_TIME:
        return None
    now = int(time.time() * 1000)
    after = int(broker.topic_config(topic, "message.timestamp.after.max.ms"))
    before = int(broker.topic_config(topic, "message.timestamp.before.max.ms"))
    if header.max_timestamp - now <= after and now - header.base_timestamp <= before:
        return None
    errors = []
    for index, record in enumerate(records.decode_records(data)):
        if record.timestamp - now > after or now - record.timestamp > before:
            errors.append({"batch_index": index, "batch_index_error_message": None})
    if not errors:
        return None
    message = (
        f"Timestamp of a record is out of range: more than {after} ms after or {before} ms "
        "before the broker's time (message.timestamp.after.max.ms / before.max.ms)"
    )
    return message, errors[:1]


def _error(index: int, code: ErrorCode, message: str | None = None, leader=None) -> dict:
    entry = {
        "index": index,
        "error_code": code,
        "base_offset": -1,
        "log_append_time": None,
        "log_start_offset": -1,
        "record_errors": [],
        "error_message": message,
    }
    if leader is not None:
        entry["current_leader"] = leader
    return entry


def _not_leader(broker, topic: str, index: int) -> dict:
    """NOT_LEADER_OR_FOLLOWER naming the leader this broker knows of (KIP-951, v10+): with it
    and the leader's endpoint, clients move to the new leader without a Metadata request."""
    return _error(index, ErrorCode.not_leader_or_follower, None, leader_hint(broker, topic, index))


def _check_batch(broker, topic: str, data: bytes | None) -> tuple[ErrorCode, str] | None:
    if not data:
        return ErrorCode.invalid_record, "Produce request has no records"
    problem = records.validate_batch(data)
    if problem:
        return ErrorCode[problem.error_name.lower()], str(problem)
    max_bytes = int(broker.topic_config(topic, "max.message.bytes"))
    if len(data) > max_bytes:
        return (
            ErrorCode.message_too_large,
            f"The record batch size {len(data)} exceeds the topic's max.message.bytes {max_bytes}",
        )
    return None


async def _produce_partition(broker, topic: str, part, acks: int, deadline: float) -> dict:
    index = part.index
    replica = broker.replicas.get((topic, index))
    if topic not in broker.image.topics or index not in broker.image.topics[topic].partitions:
        return _error(index, ErrorCode.unknown_topic_or_partition)
    if replica is None or not replica.is_leader:
        return _not_leader(broker, topic, index)
    problem = _check_batch(broker, topic, part.records)
    if problem:
        return _error(index, *problem)
    out_of_range = _timestamp_error(broker, topic, part.records)
    if out_of_range:
        entry = _error(index, ErrorCode.invalid_timestamp, out_of_range[0])
        entry["record_errors"] = out_of_range[1]
        return entry
    min_isr = int(broker.topic_config(topic, "min.insync.replicas"))
    if acks == -1 and len(replica.view.isr) < min_isr:
        return _error(
            index,
            ErrorCode.not_enough_replicas,
            f"The size of the current ISR {sorted(replica.view.isr)} is insufficient to "
            f"satisfy the min.isr requirement of {min_isr} for partition {topic}-{index}",
        )
    if records.parse_header(part.records).is_transactional:
        return _error(
            index,
            ErrorCode.invalid_txn_state,
            "Transactional produce is not supported by the bundled cluster yet",
        )
    try:
        base, last = replica.append_as_leader(bytes(part.records))
    except ProduceRejected as exc:
        return _error(index, ErrorCode[exc.error.lower()])
    if acks == -1:
        done = await broker.wait_for_high_watermark(replica, last + 1, deadline - time.monotonic())
        if done and len(replica.view.isr) < min_isr:
            # Replicated to the ISR, but the ISR shrank below min.insync.replicas meanwhile.
            return _error(index, ErrorCode.not_enough_replicas_after_append)
        if not done:
            if len(replica.view.isr) < min_isr:
                return _error(index, ErrorCode.not_enough_replicas_after_append)
            if not replica.is_leader:
                return _not_leader(broker, topic, index)
            return _error(index, ErrorCode.request_timed_out)
    return {
        "index": index,
        "error_code": ErrorCode.none,
        "base_offset": base,
        "log_append_time": None,
        "log_start_offset": replica.log_start_offset,
        "record_errors": [],
        "error_message": None,
    }


@api(0, "Produce", 3, 12)
async def handle(broker, request):
    body = request.body
    acks = body.acks
    timeout_s = body.timeout.total_seconds()
    deadline = time.monotonic() + timeout_s
    responses = []
    if acks not in VALID_ACKS:
        for topic in body.topic_data:
            responses.append(
                {
                    "name": topic.name,
                    "partition_responses": [
                        _error(p.index, ErrorCode.invalid_required_acks)
                        for p in topic.partition_data
                    ],
                }
            )
    else:
        jobs = []
        for topic in body.topic_data:
            for part in topic.partition_data:
                jobs.append(
                    (topic.name, _produce_partition(broker, topic.name, part, acks, deadline))
                )
        if len(jobs) == 1:  # the usual request: spare gather's task
            results = [await jobs[0][1]]
        else:
            results = await asyncio.gather(*(job for _, job in jobs))
        by_topic: dict[str, list[dict]] = {}
        for (name, _), result in zip(jobs, results, strict=True):
            by_topic.setdefault(name, []).append(result)
        responses = [{"name": n, "partition_responses": r} for n, r in by_topic.items()]
    if acks == 0:
        return None
    return {
        "responses": responses,
        "throttle_time": 0,
        "node_endpoints": node_endpoints(
            broker,
            (
                p["current_leader"]["leader_id"]
                for t in responses
                for p in t["partition_responses"]
                if "current_leader" in p
            ),
        ),
    }
