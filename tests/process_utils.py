"""Child processes for tests that never outlive them: each runs in its own process group, and the whole group
(torchrun's workers included) is killed when the test ends, passes, fails or times out."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from typing import Any


@contextlib.contextmanager
def group(command: Sequence[str], **kwargs: Any) -> Iterator[subprocess.Popen]:
    """``Popen(command)`` as a process-group leader; on exit SIGKILL the group and close the pipes."""
    proc = subprocess.Popen(list(command), start_new_session=True, **kwargs)
    try:
        yield proc
    finally:
        kill_group(proc)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run(command: Sequence[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run`` with the group kill: a timeout leaves no orphaned grandchildren."""
    with group(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise AssertionError(f"{command[:6]}… timed out after {timeout} s; stderr: {err[-2000:]}") from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
