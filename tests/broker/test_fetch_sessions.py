"""The client side of incremental fetch sessions, without sockets."""

from __future__ import annotations

from kafkabook.broker.fetch_sessions import SessionHandler

A, B, C = ("t", 0), ("t", 1), ("u", 0)


def test_the_first_request_is_full_and_asks_for_a_session():
    h = SessionHandler()
    r = h.next_request({A: (0, 1, 0, 10), B: (0, 1, 0, 10)})
    assert (r.session_id, r.epoch, set(r.partitions), r.forgotten) == (0, 0, {A, B}, [])


def test_incremental_requests_carry_only_changes_and_forgotten_partitions():
    h = SessionHandler()
    h.next_request({A: (0, 1, 0, 10), B: (0, 1, 0, 10)})
    h.succeeded(session_id=7)
    r = h.next_request({A: (3, 1, 0, 10), B: (0, 1, 0, 10)})
    assert (r.session_id, r.epoch, r.partitions, r.forgotten) == (7, 1, {A: (3, 1, 0, 10)}, [])
    h.succeeded(session_id=7)
    r = h.next_request({A: (3, 1, 0, 10), C: (0, 2, 0, 10)})
    assert (r.epoch, r.partitions, r.forgotten) == (2, {C: (0, 2, 0, 10)}, [B])
    h.succeeded(session_id=7)
    assert h.next_request({A: (3, 1, 0, 10), C: (0, 2, 0, 10)}).partitions == {}


def test_a_new_leader_epoch_or_log_start_resends_the_partition():
    h = SessionHandler()
    h.next_request({A: (5, 1, 0, 10)})
    h.succeeded(session_id=7)
    assert h.next_request({A: (5, 2, 0, 10)}).partitions == {A: (5, 2, 0, 10)}
    h.succeeded(session_id=7)
    assert h.next_request({A: (5, 2, 3, 10)}).partitions == {A: (5, 2, 3, 10)}


def test_a_failure_starts_over_with_a_full_request_that_closes_the_old_session():
    h = SessionHandler()
    h.next_request({A: (0, 1, 0, 10)})
    h.succeeded(session_id=7)
    h.next_request({A: (4, 1, 0, 10), B: (0, 1, 0, 10)})
    h.failed()
    r = h.next_request({A: (4, 1, 0, 10), B: (0, 1, 0, 10)})
    # Epoch 0 with the old id: the broker drops session 7 and opens a new one.
    assert (r.session_id, r.epoch, set(r.partitions), r.forgotten) == (7, 0, {A, B}, [])


def test_a_broker_that_keeps_no_session_gets_full_requests():
    h = SessionHandler()
    h.next_request({A: (0, 1, 0, 10)})
    h.succeeded(session_id=0)
    r = h.next_request({A: (2, 1, 0, 10)})
    assert (r.session_id, r.epoch, set(r.partitions)) == (0, 0, {A})
