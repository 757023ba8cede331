"""The one background event loop that every aiokafka client of kafkabook lives on.

Jupyter kernels run their own asyncio loop on the main thread, and a synchronous call cannot
wait on that loop without blocking it. So kafkabook owns a daemon thread running its own loop:
`run(coro)` hands a coroutine to it and blocks the caller (a magic, a script) until it is done.
The kernel's loop keeps serving comms and widgets meanwhile, and the same code works in terminal
IPython, VS Code and plain Python. Clients created on this loop are reused from call to call.

>>> async def answer():
...     return 42
>>> run(answer())
42
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from kafkabook.api.errors import KafkabookError

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """The kafkabook loop, started on first use.

    >>> get_loop().is_running()
    True
    """
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed() or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def main() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            thread = threading.Thread(target=main, name="kafkabook-loop", daemon=True)
            thread.start()
            started.wait()
            _loop, _thread = loop, thread
        return _loop


def in_loop_thread() -> bool:
    """Whether the caller runs on the kafkabook loop's own thread."""
    return _thread is not None and threading.current_thread() is _thread


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the kafkabook loop and wait for its result.

    ``timeout`` (seconds) cancels it and raises a one-line `KafkabookError`. Ctrl-C (or a
    kernel interrupt) cancels it too, and the KeyboardInterrupt goes on to the caller.

    >>> import asyncio
    >>> run(asyncio.sleep(5), timeout=0.05)
    Traceback (most recent call last):
    ...
    kafkabook.api.errors.KafkabookError: no answer within 0.05 s: ...
    """
    if in_loop_thread():
        coro.close()
        raise RuntimeError("kafkabook.api.loop.run() called from the kafkabook loop itself")
    future = asyncio.run_coroutine_threadsafe(coro, get_loop())
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise KafkabookError(
            f"no answer within {timeout:g} s: is the cluster up? (%kafka cluster status shows it)"
        ) from None
    except BaseException:
        future.cancel()
        raise


def stop() -> None:
    """Stop the loop and its thread (at exit, after the clients are closed)."""
    global _loop, _thread
    with _lock:
        loop, thread = _loop, _thread
        _loop = _thread = None
    if loop is None or thread is None:
        return
    if thread.is_alive():
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
    if not thread.is_alive() and not loop.is_closed():
        loop.close()
