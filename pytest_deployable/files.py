"""Reading a file a person named, which may be anything: bounded, never blocking.

One helper for every reader of untrusted files (the gate's verdict files, and
later policies and envelopes): a FIFO cannot hang it, ``/dev/zero`` cannot fill
its memory, and every failure is one line that names the file and what it is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["UnreadableFile", "read_regular_file"]


class UnreadableFile(Exception):
    """A file that could not be read; the message is one line naming it."""


def read_regular_file(path: Path, *, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    ``what`` names the kind of file in messages ("verdict file"). The file is
    opened without blocking and checked on the open descriptor, so that it
    cannot be swapped for a FIFO between a check and the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path}: is a directory, not a {what}") from None
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableFile(f"{path}: is a directory, not a {what}")
        if not stat.S_ISREG(mode):
            raise UnreadableFile(
                f"{path}: not a regular file (a pipe, device or socket); give the {what}"
            )
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1024 * 1024):
            size += len(chunk)
            if size > limit:
                mib = 1024 * 1024
                shown = f"{limit // mib} MiB" if limit >= mib else f"{limit} bytes"
                raise UnreadableFile(f"{path}: larger than {shown}, not a {what}")
            chunks.append(chunk)
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read {what}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return b"".join(chunks)
