"""Bounded reads of files an outsider hands us (an export folder, a witness's input).

:func:`read_regular_file` never follows a symbolic link at the last path component
(``O_NOFOLLOW``), never blocks on a FIFO or a device (``O_NONBLOCK`` at open, then
``fstat`` must say regular file), and never reads more than a stated number of bytes:
a symlink to ``/dev/zero`` or a named pipe in an export folder is refused at once
instead of hanging the verifier or filling its memory.

References
----------
POSIX.1-2024 ``open`` (``O_NOFOLLOW``, ``O_NONBLOCK``) and ``fstat`` (``S_ISREG``).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from heatreuse.errors import VerificationError

__all__ = ["check_real_folder", "read_regular_file"]

_CHUNK_BYTES = 1 << 20


def _describe(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, where: str) -> bytes:
    """Read a regular file of at most ``max_bytes`` bytes, refusing anything else.

    Parameters
    ----------
    path
        The file.
    max_bytes
        Largest accepted size [bytes]; a larger file is refused before it is read.
    where
        How the file is named in error messages (e.g. ``entries.jsonl``).

    Returns
    -------
    bytes
        The file content.

    Raises
    ------
    FileNotFoundError
        When the file does not exist (callers report it as missing).
    VerificationError
        When it is a symbolic link, a FIFO, a device, a socket or a folder, when it is
        larger than ``max_bytes``, or when it cannot be read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW on a symlink
            raise VerificationError(
                f"{where}: is a symbolic link; expected a regular file (links are not "
                "followed, so an export cannot point the verifier at another file)"
            ) from exc
        raise VerificationError(f"{where}: cannot be read ({exc.strerror or exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise VerificationError(
                f"{where}: is {_describe(info.st_mode)}; expected a regular file"
            )
        if info.st_size > max_bytes:
            raise VerificationError(
                f"{where}: is {info.st_size} bytes, more than the limit of {max_bytes} bytes"
            )
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK_BYTES, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # it grew while we read it
                raise VerificationError(
                    f"{where}: grew beyond the limit of {max_bytes} bytes while being read"
                )
        return b"".join(chunks)
    except OSError as exc:
        raise VerificationError(f"{where}: cannot be read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)


def check_real_folder(path: Path, where: str) -> bool:
    """True when ``path`` is a folder and not a symbolic link; False when it is missing.

    Raises
    ------
    VerificationError
        When ``path`` exists but is a symbolic link or not a folder.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(mode):
        raise VerificationError(f"{where}: is {_describe(mode)}; expected a folder")
    return True
