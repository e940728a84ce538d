"""Opening a file a user names without trusting it (STYLE.md habit 16).

Every reader of user files (IDX data, checkpoints, network files) starts here, so that
none of them can be pointed at something that never ends or never answers: ``/dev/zero``
and ``/dev/urandom`` give bytes forever, a FIFO blocks ``open`` until a writer comes, a
terminal waits for typing. ``open_regular`` refuses all of these before reading a byte,
and the readers then read no more than the file's own header promises.
"""

from __future__ import annotations

import errno
import os
import stat

from chainrule.errors import ChainruleError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class NotRegularFileError(ChainruleError, OSError):
    """A path that names something other than a regular file (a folder, FIFO, device...).

    ``kind`` says what it is ("a FIFO (named pipe)"); ``strerror`` reads
    "is a FIFO (named pipe), not a regular file", so callers that print
    ``e.strerror`` need no special case.
    """

    def __init__(self, path, kind: str):
        code = errno.EISDIR if kind == "a folder" else errno.EINVAL
        super().__init__(code, f"is {kind}, not a regular file", os.fspath(path))
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words ("a regular file", "a FIFO (named pipe)")."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def open_regular(path):
    """``path`` opened for binary reading, if it is a regular file (symlinks followed).

    ``os.stat`` before opening refuses folders, FIFOs, devices and sockets without
    touching them; the open itself is non-blocking and ``fstat`` checks the opened file
    again, so a path swapped for a FIFO in between can neither block nor be read.
    Raises ``NotRegularFileError``, or the ``OSError`` of stat/open (``FileNotFoundError``,
    ``PermissionError``).
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(path, file_kind(mode))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, file_kind(mode))
        # NOTE: O_NONBLOCK means nothing for a regular file; it was only there so that
        # opening a FIFO could not hang.
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_up_to(f, n: int) -> bytes:
    """At most ``n`` bytes from the binary stream ``f``; fewer only at its end."""
    chunks = []
    while n > 0:
        chunk = f.read(min(n, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
