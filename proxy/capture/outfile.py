"""One policy for every file dtlsproxy writes: captures, logs, exports, key logs.

* Created mode 0600 before any byte is written: a capture holds a call's media, a log
  its SDP fingerprints and addresses, a key log its secrets.
* A symbolic link is never followed (``O_NOFOLLOW``; one planted in a shared directory
  such as /tmp is refused, not written through).
* An existing file is never clobbered: it is refused unless ``force`` (then it is
  unlinked and created anew, so a planted hard link is not written through either), or,
  for a format that can grow (JSONL), appended to (``append``) when it is plainly ours:
  a regular file owned by this user with no other link; its mode is set to 0600.
* A FIFO or a character device (``/dev/null``, ``mkfifo``) is written as it is: nothing
  stored there can be clobbered.

Every refusal is an :class:`OutputError` whose message says what to do.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import IO, Literal, overload

FILE_MODE = 0o600

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_EXISTING = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC


class OutputError(OSError):
    """An output file refused or not creatable; ``strerror`` is the reason for the user,
    ``str()`` is ``"PATH: reason"``."""

    def __init__(self, path: str | os.PathLike[str], reason: str, code: int = 0) -> None:
        super().__init__(code, reason, os.fspath(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def open_fd(path: str | os.PathLike[str], *, force: bool = False, append: bool = False) -> int:
    """A file descriptor open for writing at ``path``, by the module's policy.

    ``append``: an existing file of ours is appended to. ``force``: an existing file is
    replaced. Neither: an existing regular file is refused. Raises :class:`OutputError`.
    """
    for _ in range(3):  # the path may change under us between the look and the open
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            fd = _create(path)
            if fd is not None:
                return fd
            continue  # created by someone else meanwhile: look again
        except OSError as exc:
            raise OutputError(path, f"cannot write there ({exc.strerror or exc})",
                              exc.errno or 0) from None
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            raise OutputError(path, "is a symbolic link: not followed (give the file it "
                              "points to, or remove the link)", errno.ELOOP)
        if stat.S_ISDIR(mode):
            raise OutputError(path, "is a directory", errno.EISDIR)
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            return _open_existing(path, append=False)
        if not stat.S_ISREG(mode):
            raise OutputError(path, "is not a regular file", errno.EINVAL)
        if append:
            return _open_existing(path, append=True)
        if not force:
            raise OutputError(path, "exists; use --force to replace it", errno.EEXIST)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise OutputError(path, f"cannot replace it ({exc.strerror or exc})",
                              exc.errno or 0) from None
    raise OutputError(path, "keeps changing while it is opened: refused", errno.EAGAIN)


def _create(path: str | os.PathLike[str]) -> int | None:
    """A new file, mode 0600 whatever the umask; None if it appeared meanwhile."""
    try:
        fd = os.open(path, _CREATE, FILE_MODE)
    except FileExistsError:
        return None
    except OSError as exc:
        folder = os.path.dirname(os.path.abspath(path))
        if exc.errno == errno.ENOENT:
            reason = f"no such directory {folder}"
        elif exc.errno == errno.EACCES:
            reason = f"cannot create files in {folder}"
        else:
            reason = f"cannot create it ({exc.strerror or exc})"
        raise OutputError(path, reason, exc.errno or 0) from None
    os.fchmod(fd, FILE_MODE)
    return fd


def _open_existing(path: str | os.PathLike[str], *, append: bool) -> int:
    flags = _EXISTING | (os.O_APPEND if append else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(path, "is a symbolic link: not followed", errno.ELOOP) from None
        raise OutputError(path, f"cannot open it ({exc.strerror or exc})",
                          exc.errno or 0) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return fd  # a FIFO or a device (what lstat saw)
    problem = None
    if st.st_uid != os.geteuid():
        problem = "belongs to another user: not appended to (give another file)"
    elif st.st_nlink != 1:
        problem = f"has {st.st_nlink} hard links: not appended to (give another file)"
    if problem is not None:
        os.close(fd)
        raise OutputError(path, problem, errno.EPERM)
    os.fchmod(fd, FILE_MODE)
    return fd


@overload
def open_output(path: str | os.PathLike[str], binary: Literal[True], *, force: bool = ...,
                append: bool = ...) -> IO[bytes]: ...


@overload
def open_output(path: str | os.PathLike[str], binary: Literal[False] = ..., *,
                force: bool = ..., append: bool = ...) -> IO[str]: ...


def open_output(path: str | os.PathLike[str], binary: bool = False, *, force: bool = False,
                append: bool = False) -> IO[bytes] | IO[str]:
    """:func:`open_fd` as a file object: UTF-8 text with ``\\n`` lines, or ``binary``."""
    fd = open_fd(path, force=force, append=append)
    if binary:
        return os.fdopen(fd, "ab" if append else "wb")
    return os.fdopen(fd, "a" if append else "w", encoding="utf-8", newline="\n")
