"""Pausing and resuming node processes with SIGSTOP/SIGCONT, shared by the local backends.

Signals are delivered asynchronously, and a multi-threaded process (every JVM) stops thread by
thread, so a backend that reports a node's state right after ``pause`` must first wait for the
kernel to show it stopped.
"""

from __future__ import annotations

import signal
import time

import psutil

PAUSED_STATES = frozenset((psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP))


def is_paused(proc: psutil.Process) -> bool:
    """Whether the kernel shows ``proc`` stopped (False once it is gone).

    >>> is_paused(psutil.Process())
    False
    """
    try:
        return proc.status() in PAUSED_STATES
    except psutil.Error:
        return False


def set_paused(proc: psutil.Process, paused: bool, timeout: float = 5.0) -> None:
    """SIGSTOP (``paused=True``) or SIGCONT ``proc`` and return once the kernel shows the change.

    >>> set_paused(psutil.Process(broker_pid), True)   # doctest: +SKIP
    """
    proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (proc.status() in PAUSED_STATES) == paused:
                return
        except psutil.Error:
            return
        time.sleep(0.005)
