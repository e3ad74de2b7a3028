"""One process per run directory: an exclusive ``flock`` on ``RUN/.lock`` for the life of the process.

The kernel drops the lock when the process ends in any way (exit, exception, SIGKILL, a crash), so a lock
left by a dead run is taken over without asking; its file only says who held it last. A second process
(a second ``train --out`` or a ``--resume`` while the run lives) gets ``RunLocked`` naming the holder.
Locks are per process and re-entrant (the CLI and the trainer both hold it). Not for network file systems
without ``flock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

LOCK_FILE = ".lock"
_held: dict[Path, tuple[IO[str], int]] = {}


class RunLocked(ValueError):
    """Another live process holds the run directory."""


def acquire(run_dir: Path) -> None:
    """Take the lock on ``run_dir`` (created if missing) or raise ``RunLocked``; re-entrant."""
    key = Path(run_dir).resolve()
    if key in _held:
        f, count = _held[key]
        _held[key] = (f, count + 1)
        return
    try:
        key.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise ValueError(f"--out: expected a directory, got {str(run_dir)!r}, which is a file or under one") from err
    except PermissionError as err:
        raise ValueError(f"--out: cannot create {str(run_dir)!r} (permission denied); choose another --out") from err
    try:
        f = open(key / LOCK_FILE, "a+")  # noqa: SIM115  # held open for the life of the lock
    except OSError as err:
        raise ValueError(f"--out: cannot write in {str(run_dir)!r} ({err.strerror}); choose another --out") from err
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise RunLocked(
            f"run directory {run_dir} is in use by {holder}; wait for it to finish (or stop it) and try again"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(f"process {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    f.flush()
    _held[key] = (f, 1)


def release(run_dir: Path) -> None:
    key = Path(run_dir).resolve()
    if key not in _held:
        return
    f, count = _held.pop(key)
    if count > 1:
        _held[key] = (f, count - 1)
        return
    f.close()  # closing the descriptor drops the flock


@contextlib.contextmanager
def hold(run_dir: Path) -> Iterator[None]:
    acquire(run_dir)
    try:
        yield
    finally:
        release(run_dir)
