"""Save and load models: ``model.safetensors`` (weights) + ``config.json`` (the architecture) + ``manifest.json``.

The manifest holds the size and SHA-256 of every file, so a load refuses a truncated or bit-flipped file
by name instead of running garbage weights. Before anything is allocated, the config's shapes are checked
against the safetensors header (a few KB): a crafted or mismatched ``config.json`` fails in milliseconds.
Directories from before manifests (or made by hand) still load, unverified.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from torchperceiver.atomic import atomic_path
from torchperceiver.core.config import PerceiverConfig
from torchperceiver.core.model import PerceiverIO

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MANIFEST = "manifest.json"
#: A training checkpoint's extra file; a directory holding it must have a manifest.
STATE_FILE = "state.pt"
#: The most a safetensors header may take (the real ones are a few hundred KB at most).
MAX_HEADER_BYTES = 100 << 20
#: Memory a config may ask for beyond its stored tensors (position tables and other computed buffers).
MAX_UNSTORED_BYTES = 1 << 30
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


class IntegrityError(ValueError):
    """A saved file that is missing, truncated or altered; ``why`` names the file."""

    def __init__(self, directory: Path, why: str) -> None:
        super().__init__(f"{directory}: {why}")
        self.directory, self.why = directory, why


def save(model: PerceiverIO, directory: str | os.PathLike) -> None:
    """Write ``model``'s weights, config and manifest into ``directory``; each file appears atomically."""
    from safetensors.torch import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        write_checked(tmp, lambda p: save_model(model, str(p), metadata={"format": "pt"}), directory / WEIGHTS_FILE)
    with atomic_path(directory / CONFIG_FILE) as tmp:
        write_checked(tmp, lambda p: p.write_text(json.dumps(model.config.to_dict(), indent=2) + "\n"))
    write_manifest(directory, [directory / WEIGHTS_FILE, directory / CONFIG_FILE])


def write_manifest(directory: Path, files: Iterable[Path], **extra: Any) -> None:
    """``manifest.json`` in ``directory``: size and SHA-256 of each of ``files`` (plus ``extra`` keys)."""
    entries = {f.name: {"bytes": f.stat().st_size, "sha256": sha256(f)} for f in sorted(files)}
    text = json.dumps({**extra, "files": entries}, indent=2) + "\n"
    with atomic_path(directory / MANIFEST) as tmp:
        write_checked(tmp, lambda p: p.write_text(text), directory / MANIFEST)


def verify(directory: str | os.PathLike, names: Iterable[str] | None = None) -> None:
    """Each file the manifest lists (or only ``names``) is there with its size and SHA-256, else ``IntegrityError``."""
    directory = Path(directory)
    try:
        files = json.loads((directory / MANIFEST).read_text())["files"]
        if not isinstance(files, dict):
            raise ValueError("files is not an object")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise IntegrityError(directory, f"{MANIFEST} is missing or unreadable ({err})") from err
    wanted = set(files) if names is None else set(names)
    for name in sorted(wanted):
        if name not in files:
            raise IntegrityError(directory, f"{name} is not listed in {MANIFEST}")
        expected, file = files[name], directory / name
        if not file.is_file():
            raise IntegrityError(directory, f"{name} is missing")
        size = file.stat().st_size
        if size != expected.get("bytes"):
            raise IntegrityError(
                directory, f"{name} is truncated or overwritten (expected {expected.get('bytes')} bytes, found {size})"
            )
        if sha256(file) != expected.get("sha256"):
            raise IntegrityError(directory, f"{name} is corrupt (SHA-256 differs from {MANIFEST})")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_checked(tmp: Path, writer: Callable[[Path], Any], target: Path | None = None) -> None:
    """Run ``writer(tmp)`` and fsync; a full disk becomes ``OSError(ENOSPC, "no space left writing <target>")``.

    PyTorch's zip writer reports a full disk as ``RuntimeError: … unexpected pos``; the free space tells.
    """
    target = target or tmp
    try:
        writer(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    except (OSError, RuntimeError) as err:
        if _disk_full(err, tmp.parent):
            raise OSError(errno.ENOSPC, f"no space left writing {target}; free some space and run again") from err
        raise


def _disk_full(err: BaseException, directory: Path) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(directory).free < (1 << 20)
    except OSError:
        return False


def load_config(directory: str | os.PathLike) -> PerceiverConfig:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"directory: expected {CONFIG_FILE} in {directory}, found none")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    try:
        return PerceiverConfig.from_dict(data)
    except (TypeError, KeyError) as err:  # a field of the wrong kind deep in an adapter
        raise ValueError(f"{path}: {err}") from err


def load(directory: str | os.PathLike, device: str | torch.device = "cpu") -> PerceiverIO:
    """Rebuild the model saved in ``directory`` with its weights (strict: every tensor must match).

    Order: integrity (manifest), the config, its shapes against the weights' header (on the meta device,
    nothing allocated), and only then the real model.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    directory = Path(directory)
    weights = directory / WEIGHTS_FILE
    if not (directory / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"directory: expected {CONFIG_FILE} in {directory}, found none")
    if not weights.is_file():
        raise FileNotFoundError(f"directory: expected {WEIGHTS_FILE} in {directory}, found none")
    if (directory / MANIFEST).is_file() or (directory / STATE_FILE).is_file():
        verify(directory, [CONFIG_FILE, WEIGHTS_FILE])
    config = load_config(directory)
    device = _device(device)
    check_shapes(config, weights)
    model = PerceiverIO(config)
    try:
        load_model(model, str(weights), strict=True, device=str(device))
    except (SafetensorError, RuntimeError) as err:
        raise ValueError(f"{weights}: cannot load weights ({err})") from err
    return model.to(device)


def check_shapes(config: PerceiverConfig, weights: Path) -> None:
    """Every tensor in ``weights`` has the shape ``config``'s model gives it, and the model is not absurdly
    larger than the file; checked on the meta device, so a crafted config allocates nothing."""
    header = read_header(weights)
    with torch.device("meta"):
        meta = PerceiverIO(config)
    expected = meta.state_dict()
    for name, info in header.items():
        if name not in expected:
            raise ValueError(f"{weights}: tensor {name!r} is not part of the model config.json describes")
        if list(expected[name].shape) != list(info["shape"]):
            raise ValueError(
                f"{weights}: tensor {name!r} has shape {list(info['shape'])}, config.json gives "
                f"{list(expected[name].shape)}"
            )
    stored = weights.stat().st_size
    total = sum(t.numel() * t.element_size() for t in [*meta.parameters(), *meta.buffers()])
    if total > 4 * stored + MAX_UNSTORED_BYTES:
        raise ValueError(
            f"{weights.parent / CONFIG_FILE}: the model it describes needs {total / 2**30:.1f} GiB, "
            f"far more than the {stored / 2**30:.2f} GiB of weights saved with it"
        )


def read_header(weights: Path) -> dict[str, dict[str, Any]]:
    """The tensors a safetensors file declares (``name → {dtype, shape, data_offsets}``), checked against its size."""
    size = weights.stat().st_size
    with open(weights, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"{weights}: not a safetensors file (only {len(head)} bytes)")
        (length,) = struct.unpack("<Q", head)
        if not 0 < length <= min(size - 8, MAX_HEADER_BYTES):
            raise ValueError(f"{weights}: not a safetensors file (header of {length} bytes in a {size}-byte file)")
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{weights}: not a safetensors file (unreadable header: {err})") from err
    if not isinstance(header, dict):
        raise ValueError(f"{weights}: not a safetensors file (header is not an object)")
    header.pop("__metadata__", None)
    data = size - 8 - length
    for name, info in header.items():
        try:
            shape, (start, end) = [int(d) for d in info["shape"]], info["data_offsets"]
            numel, width = 1, _DTYPE_BYTES.get(info["dtype"])
            for d in shape:
                numel *= d
            ok = min(shape, default=0) >= 0 and 0 <= start <= end <= data
            ok = ok and (width is None or end - start == numel * width)
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{weights}: tensor {name!r} has a damaged header entry {info!r}")
    return header


def _device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device: expected a device this machine has, got {str(device)!r} (no CUDA GPU); use --device cpu"
        )
    return dev


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu", what: str = "--checkpoint") -> PerceiverIO:
    """A model from a ``save_pretrained`` directory, a training checkpoint, or a run directory (its last one)."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        return load(path, device)
    from torchperceiver.training.checkpoint import resolve  # a run directory's layout belongs to the trainer

    return load(resolve(path, what), device)
