"""The broker's side of the controller RPC.

One :class:`ControllerClient` keeps one connection to the controller and multiplexes calls over
it by request id, so a ``fetch_metadata`` long poll and a heartbeat can be in flight together.
When the controller is down the client reconnects with exponential backoff; a call waits for
that up to its ``timeout``.

>>> async def demo():                                        # doctest: +SKIP
...     client = ControllerClient("127.0.0.1", 9090)
...     answer = await client.call("create_topics", topics=[{"name": "t"}], validate_only=True)
...     await client.close()
...     return answer["results"][0]["num_partitions"]

The two helper loops, :meth:`ControllerClient.registration_and_heartbeats` and
:meth:`ControllerClient.metadata_follower`, are what a broker runs as background tasks.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from kafkabook.broker.controller.rpc import FrameError, read_frame, write_frame
from kafkabook.broker.state import MetadataImage

log = logging.getLogger("kafkabook.controller_client")

#: Ops that are safe to send again when the connection drops after sending: they change
#: nothing (or, for ``register``, a repeat only yields a newer broker epoch). Other ops are
#: not retried once sent, because the controller may have applied them.
RETRIABLE_OPS = frozenset({"register", "heartbeat", "fetch_metadata", "describe_quorum"})

#: Errors after which a broker must register again.
REREGISTER_ERRORS = frozenset({"STALE_BROKER_EPOCH", "BROKER_ID_NOT_REGISTERED"})


class ControllerError(Exception):
    """The controller refused a call, or could not be reached in time.

    ``error`` is a Kafka error name (``REQUEST_TIMED_OUT`` when the controller did not answer in
    time, ``NETWORK_EXCEPTION`` when the connection dropped after a non-retriable request was
    sent); ``response`` is the whole answer when there was one (``alter_partition`` sends the
    current partition state along with its error).

    >>> str(ControllerError("TOPIC_ALREADY_EXISTS", "Topic 't' already exists."))
    "TOPIC_ALREADY_EXISTS: Topic 't' already exists."
    """

    def __init__(self, error: str, message: str = "", response: dict[str, Any] | None = None):
        super().__init__(f"{error}: {message}" if message else error)
        self.error = error
        self.message = message
        self.response = response


class _ConnectionLost(Exception):
    pass


class _Connection:
    """One TCP connection and the calls waiting for an answer on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.write_lock = asyncio.Lock()
        self.lost = False
        self.reader_task: asyncio.Task[None] | None = None

    def fail_pending(self) -> None:
        self.lost = True
        for future in self.pending.values():
            if not future.done():
                future.set_exception(_ConnectionLost())
        self.pending.clear()


async def _invoke(callback: Callable[..., Any], *args: Any) -> None:
    """Call a sync or async callback."""
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


class ControllerClient:
    """Async client of the controller RPC (see docs/architecture.md, "Controller RPC").

    ``call`` raises :class:`ControllerError` for every failure, network ones included.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        backoff_initial: float = 0.02,
        backoff_max: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._ids = itertools.count(1)
        self._conn: _Connection | None = None
        self._connect_lock = asyncio.Lock()
        self._closed = False
        # Registration state kept by registration_and_heartbeats().
        self.broker_id: int | None = None
        self.broker_epoch: int = -1
        self.cluster_id: str = ""
        self.fenced: bool = True
        self.registered = asyncio.Event()
        self._want_shutdown = False
        self._shutdown_ok = asyncio.Event()
        self._get_metadata_offset: Callable[[], int] | None = None
        # Set by metadata_follower() once the image has reached the log's end the first time.
        self.caught_up = asyncio.Event()
        self._followed_image: MetadataImage | None = None

    # ------------------------------------------------------------------ calls

    async def call(self, op: str, *, timeout: float | None = 30.0, **fields: Any) -> dict[str, Any]:
        """Send one request and return the answer; raise :class:`ControllerError` on error.

        Waits (reconnecting with backoff) while the controller is unreachable, for at most
        ``timeout`` seconds in all (``None``: no limit).

        >>> async def demo(client):                           # doctest: +SKIP
        ...     return await client.call("heartbeat", broker_id=1, broker_epoch=5,
        ...                              metadata_offset=9, want_shutdown=False)
        """
        try:
            async with asyncio.timeout(timeout):
                return await self._call(op, fields)
        except TimeoutError:
            raise ControllerError(
                "REQUEST_TIMED_OUT",
                f"the controller at {self.host}:{self.port} did not answer {op} within {timeout}s",
            ) from None

    async def _call(self, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        while True:
            conn = await self._connect()
            request_id = next(self._ids)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            conn.pending[request_id] = future
            try:
                async with conn.write_lock:
                    await write_frame(conn.writer, {**fields, "id": request_id, "op": op})
                response = await future
            except FrameError as exc:
                raise ControllerError("INVALID_REQUEST", str(exc)) from None
            except (_ConnectionLost, OSError) as exc:
                self._drop(conn)
                if op in RETRIABLE_OPS and not self._closed:
                    log.info("connection to the controller lost during %s; retrying", op)
                    continue
                raise ControllerError(
                    "NETWORK_EXCEPTION",
                    f"connection to the controller lost during {op} ({exc!r}); it may or may not "
                    "have been applied",
                ) from None
            finally:
                conn.pending.pop(request_id, None)
            error = response.get("error")
            if error:
                raise ControllerError(str(error), str(response.get("message") or ""), response)
            return response

    async def _connect(self) -> _Connection:
        async with self._connect_lock:
            delay = self.backoff_initial
            while self._conn is None or self._conn.lost:
                if self._closed:
                    raise ControllerError("NETWORK_EXCEPTION", "the controller client is closed")
                try:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                except OSError as exc:
                    log.debug("controller %s:%d unreachable: %s", self.host, self.port, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.backoff_max)
                    continue
                conn = _Connection(reader, writer)
                conn.reader_task = asyncio.create_task(self._read_answers(conn))
                self._conn = conn
            return self._conn

    async def _read_answers(self, conn: _Connection) -> None:
        try:
            while True:
                answer = await read_frame(conn.reader)
                if answer is None:
                    break
                future = conn.pending.pop(answer.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(answer)
        except (FrameError, asyncio.IncompleteReadError, OSError) as exc:
            log.info("connection to the controller broken: %s", exc)
        finally:
            self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        conn.fail_pending()
        conn.writer.close()
        if self._conn is conn:
            self._conn = None

    async def close(self) -> None:
        """Close the connection; calls in flight fail with ``NETWORK_EXCEPTION``."""
        self._closed = True
        conn = self._conn
        if conn is not None:
            self._drop(conn)
            if conn.reader_task is not None:
                conn.reader_task.cancel()
                await asyncio.gather(conn.reader_task, return_exceptions=True)

    # ------------------------------------------------------------------ broker loops

    async def register(self, broker_id: int, host: str, port: int, incarnation: str) -> int:
        """Register (again) and remember the broker epoch; returns it."""
        answer = await self.call(
            "register", broker_id=broker_id, host=host, port=port, incarnation=incarnation
        )
        self.broker_id = broker_id
        self.broker_epoch = int(answer["broker_epoch"])
        self.cluster_id = str(answer.get("cluster_id", ""))
        self.registered.set()
        return self.broker_epoch

    async def registration_and_heartbeats(
        self,
        broker_id: int,
        host: str,
        port: int,
        get_metadata_offset: Callable[[], int],
        on_fenced: Callable[[bool], Any],
        *,
        incarnation: str | None = None,
        interval: float = 0.5,
    ) -> None:
        """Register, then heartbeat every ``interval`` seconds, forever (cancel to stop).

        ``on_fenced(fenced)`` (sync or async) is called whenever the fenced state changes, the
        first time right after registering (``True``). The broker registers again when the
        controller no longer knows its epoch (a controller that lost its log); a controller
        restart on the same log keeps the registration, as broker epochs live in the log.
        Refused registrations (``DUPLICATE_BROKER_REGISTRATION`` while a previous process's
        session is still alive) are retried with backoff.

        >>> async def run(client, image):                     # doctest: +SKIP
        ...     await client.registration_and_heartbeats(
        ...         1, "127.0.0.1", 9092, lambda: image.offset, lambda f: print("fenced", f))
        """
        incarnation = incarnation or uuid.uuid4().hex
        self._get_metadata_offset = get_metadata_offset
        known_fenced: bool | None = None

        async def report(fenced: bool) -> None:
            nonlocal known_fenced
            self.fenced = fenced
            if fenced != known_fenced:
                known_fenced = fenced
                try:
                    await _invoke(on_fenced, fenced)
                except Exception:
                    log.exception("on_fenced callback failed")

        delay = self.backoff_initial
        while True:
            try:
                await self.register(broker_id, host, port, incarnation)
            except ControllerError as exc:
                log.warning("broker %d could not register: %s", broker_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_initial
            log.info("broker %d registered, broker epoch %d", broker_id, self.broker_epoch)
            await report(True)
            while True:
                want_shutdown = self._want_shutdown
                try:
                    answer = await self.call(
                        "heartbeat",
                        broker_id=broker_id,
                        broker_epoch=self.broker_epoch,
                        metadata_offset=get_metadata_offset(),
                        want_shutdown=want_shutdown,
                        timeout=max(interval * 4, 2.0),
                    )
                except ControllerError as exc:
                    if exc.error in REREGISTER_ERRORS:
                        log.warning("broker %d: %s; registering again", broker_id, exc)
                        break
                    log.warning("broker %d heartbeat failed: %s", broker_id, exc)
                    await asyncio.sleep(interval)
                    continue
                await report(bool(answer.get("fenced")))
                if want_shutdown and answer.get("shutdown_ok"):
                    self._shutdown_ok.set()
                # During a controlled shutdown, ask often: it ends on a heartbeat answer.
                await asyncio.sleep(interval / 5 if self._want_shutdown else interval)

    async def controlled_shutdown(self, timeout: float = 10.0, *, interval: float = 0.1) -> bool:
        """Ask the controller to move leadership away; True once it says ``shutdown_ok``.

        Sends its own heartbeats with ``want_shutdown`` (the heartbeat loop, if running, sends
        them too). Needs a prior registration through this client.
        """
        if self.broker_id is None:
            return True
        self._want_shutdown = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._shutdown_ok.is_set():
            try:
                answer = await self.call(
                    "heartbeat",
                    broker_id=self.broker_id,
                    broker_epoch=self.broker_epoch,
                    metadata_offset=self._metadata_offset(),
                    want_shutdown=True,
                    timeout=max(0.1, deadline - time.monotonic()),
                )
            except ControllerError as exc:
                log.warning("controlled shutdown heartbeat failed: %s", exc)
                if exc.error in REREGISTER_ERRORS:
                    return False
            else:
                if answer.get("shutdown_ok"):
                    self._shutdown_ok.set()
                    break
            await asyncio.sleep(interval)
        return self._shutdown_ok.is_set()

    def _metadata_offset(self) -> int:
        # The controller lets a broker go only once it has seen its own leadership moves, so
        # the offset must be live: the heartbeat loop's source, else the followed image.
        if self._get_metadata_offset is not None:
            return self._get_metadata_offset()
        image = self._followed_image
        return image.offset if image is not None else -1

    async def metadata_follower(
        self,
        image: MetadataImage,
        on_records: Callable[[list[dict[str, Any]]], Any],
        *,
        max_wait_ms: int = 1000,
    ) -> None:
        """Long-poll ``fetch_metadata`` forever, applying records to ``image`` in order.

        After each non-empty batch, ``on_records(records)`` (sync or async) gets the records
        just applied (the inner record objects, in log order); ``image.offset`` is then the
        offset of the last one. If the controller's log no longer reaches the image's offset
        (``OFFSET_OUT_OF_RANGE``: its data dir was wiped), the image is reset and refilled from
        offset 0. :attr:`caught_up` is set once the image first reaches the log end.

        >>> async def follow(client):                         # doctest: +SKIP
        ...     image = MetadataImage()
        ...     await client.metadata_follower(image, lambda recs: print(len(recs), "records"))
        """
        self._followed_image = image
        delay = self.backoff_initial
        while True:
            try:
                answer = await self.call(
                    "fetch_metadata",
                    from_offset=image.offset + 1,
                    max_wait_ms=max_wait_ms,
                    timeout=max_wait_ms / 1000 + 10,
                )
            except ControllerError as exc:
                if exc.error == "OFFSET_OUT_OF_RANGE":
                    log.warning("metadata log is behind our image (%s): fetching it anew", exc)
                    image.reset()
                    continue
                log.warning("fetch_metadata failed: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_initial
            applied = []
            for entry in answer.get("records", []):
                image.apply(entry["record"], offset=int(entry["offset"]))
                applied.append(entry["record"])
            if applied:
                try:
                    await _invoke(on_records, applied)
                except Exception:
                    log.exception("on_records callback failed")
            if image.offset + 1 >= int(answer.get("end_offset", 0)):
                self.caught_up.set()
