"""``write_atomic``: replace a file so that a crash leaves either the old one or the new.

Its own module because it is not about state dicts: ``save`` writes through it, and so
do the training run's reports and the figures (train/report.py, viz/graph.py,
explain/figure.py), which need the same guarantee for files that are not checkpoints.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from chainrule._files import NotRegularFileError, file_kind


def write_atomic(path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    A temporary file ``.NAME.RANDOM.tmp`` is created in the same folder, written, flushed
    and fsynced, renamed over ``path`` with ``os.replace``, and the folder fsynced so the
    rename is durable. On any exception the temporary file is removed and ``path`` is
    untouched; only a hard kill between creating and renaming it can leave a stale
    ``.tmp`` file behind. ``durable=False`` skips both fsyncs: the replacement is still
    whole or absent if the process dies, but not promised to survive a power cut (for a
    progress report rewritten every epoch, whose final version is written durably).

    Replacing a file keeps what the user made of it: the new file gets the old one's
    permissions (a 0600 file stays 0600; and its owner, where the process may set it),
    and a symlink is written through: its target is replaced, atomically, and the link
    stays a link. A new file gets 0666 less the umask, as ``open`` gives. A ``path`` that
    is a folder, FIFO, device or socket is refused (``NotRegularFileError``, an
    ``OSError``) before anything is written.
    """
    path = _link_target(Path(path))
    folder = path.parent
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise NotRegularFileError(path, file_kind(old.st_mode))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    # Replacing a file: start private (0600) and take its mode once written, so that the
    # data of a 0600 file is never readable by others, not even for a moment.
    mode = 0o666 if old is None else 0o600
    while True:
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, flags, mode)
            break
        except FileExistsError:  # pragma: no cover - a 48-bit name collision
            continue
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(f"write to {tmp} made no progress")
                view = view[written:]
            if old is not None:
                _copy_owner_and_mode(fd, old)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        _sync_folder(folder)


def link_atomic(source, path) -> None:
    """Make ``path`` name the file ``source`` (a hard link), replacing what ``path`` held
    in one atomic, durable step: a crash leaves the old ``path`` or the new.

    For a file just written whole and never written in place again (a checkpoint), this
    keeps a second name for it without writing its bytes twice. Where the filesystem has
    no hard links, or ``path`` is a symlink (written through, as ``write_atomic`` does),
    ``source``'s bytes are written to ``path`` instead.
    """
    source, path = Path(source), Path(path)
    if not os.path.islink(path):
        folder = path.parent
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.link(source, tmp)
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise
        else:
            try:
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _sync_folder(folder)
            return
    write_atomic(path, source.read_bytes())


# errno values that mean "no hard link here" (FAT, some network and FUSE filesystems)
_NO_LINKS = frozenset({errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP,
                       errno.EOPNOTSUPP, errno.ENOSYS})


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (not possible on every platform or filesystem)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _link_target(path: Path) -> Path:
    """The file a symlink at ``path`` points to (through every link), else ``path``."""
    if not os.path.islink(path):
        return path
    target = Path(os.path.realpath(path))
    if os.path.islink(target):  # realpath stops at a loop and gives back a link
        raise OSError(errno.ELOOP, "too many levels of symbolic links", str(path))
    return target


def _copy_owner_and_mode(fd: int, old: os.stat_result) -> None:
    """Give the new file (``fd``) the replaced file's owner, group and permissions."""
    new = os.fstat(fd)
    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != (new.st_uid, new.st_gid):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:  # only root may give a file away; the file is then ours
            pass
    try:
        os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after fchown, which may clear set-id bits
    except (OSError, AttributeError):  # NOTE: filesystems without modes (FAT) refuse it
        pass

