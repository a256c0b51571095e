"""A delaying TCP relay: puts a far-away host's round trip in front of a loopback server.

The machines this project is developed on have no ``sch_netem`` in their kernels,
so ``tc qdisc ... netem delay`` is not available; instead each host's sshd sits
behind this relay, which holds every chunk it reads for ``delay`` seconds before
writing it on, in each direction, in order. With 50 ms each way a command's
request-and-answer costs 100 ms of round trip, as it does to a host in another
region.

What it does not model: the relay terminates TCP on both sides, so acknowledgements
come from the relay, 0 ms away, not from the far end; a sender's Nagle wait and
slow start are therefore shorter than across a real 100 ms link. Bandwidth is
unlimited and nothing is lost. Both sockets of a relayed connection get
``TCP_NODELAY`` so that the relay itself never holds a small write back.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

#: Bytes read at once; a chunk is delayed and written whole.
_CHUNK = 65536


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read.

    Reading and writing are two tasks around a queue, so a chunk read while an
    earlier one waits is stamped with its own arrival time: the delay is a
    latency, not a rate limit, and the order is kept.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while True:
            try:
                data = await reader.read(_CHUNK)
            except OSError:
                data = b""
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                return

    reading = asyncio.create_task(read())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:  # the sender's end of stream, passed on as a half-close
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
    except OSError:
        return
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await reading  # ended here, not left pending when the loop stops


async def _relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                 upstream: tuple[str, int], delay: float) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection(*upstream)
    except OSError:
        client_writer.close()
        return
    _no_delay(client_writer)
    _no_delay(server_writer)
    try:
        await asyncio.gather(_pipe(client_reader, server_writer, delay),
                             _pipe(server_reader, client_writer, delay))
    finally:
        for writer in (client_writer, server_writer):
            writer.close()
        for writer in (client_writer, server_writer):
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()


@dataclass
class RelayCount:
    """What the relays saw: TCP connections accepted, over all routes (ssh connections)."""

    connections: int = 0


@contextmanager
def relays(routes: Sequence[tuple[tuple[str, int], tuple[str, int]]],
           delay: float) -> Iterator[RelayCount]:
    """Relay each ``(listen, upstream)`` address pair with ``delay`` seconds each way,
    in a thread of this process, until the context ends."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    servers: list[asyncio.AbstractServer] = []
    failure: list[BaseException] = []
    count = RelayCount()
    handlers: set[asyncio.Task[None]] = set()

    async def start() -> None:
        for listen, upstream in routes:
            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             upstream: tuple[str, int] = upstream) -> None:
                count.connections += 1  # only the loop's thread writes it
                task = asyncio.current_task()
                assert task is not None
                handlers.add(task)
                try:
                    await _relay(reader, writer, upstream, delay)
                except asyncio.CancelledError:
                    pass  # the relays are stopping; the connection is closed
                finally:
                    handlers.discard(task)

            servers.append(await asyncio.start_server(handle, *listen, backlog=256))

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:  # reported to the caller's thread below
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="delaying relay", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise RuntimeError(f"the relay did not start: {failure[0]}") from failure[0]
    try:
        yield count
    finally:
        async def stop() -> None:
            # Connections still open (an ssh ControlPersist master of plain testinfra)
            # are cut, and every task is awaited, so none is left pending at close.
            for server in servers:
                server.close()
            running = list(handlers)
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running, timeout=5)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
