"""Plain data across the sandbox boundary: JSON for structure, ``.npz`` for arrays.

Nothing is ever unpickled: arrays are loaded with ``allow_pickle=False`` and the JSON
decoder for the worker's outputs accepts only arrays, lists, dicts and scalars.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..core import Build, Call, DeviceValue

MAX_JSON_BYTES = 16 * 2**20
MAX_NPZ_BYTES = 512 * 2**20


def encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, DeviceValue):
        return {"__device__": value.name}
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__nd__": key}
    if isinstance(value, Call):
        return {"__call__": {f.name: encode(getattr(value, f.name), arrays) for f in dataclasses.fields(Call)}}
    if isinstance(value, Build):
        return {"__build__": value.factory, "params": encode(value.params, arrays)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"__map__": {str(k): encode(v, arrays) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot send {type(value).__name__} across the sandbox boundary")


def decode(value: Any, arrays, trusted: bool) -> Any:
    """``trusted=False`` (the worker's outputs): only arrays, lists, dicts and scalars."""
    if isinstance(value, list):
        return [decode(v, arrays, trusted) for v in value]
    if isinstance(value, dict):
        if "__nd__" in value:
            array = arrays[value["__nd__"]]
            if array.dtype == object:
                raise ValueError("object arrays are not plain data")
            return array
        if "__map__" in value:
            return {k: decode(v, arrays, trusted) for k, v in value["__map__"].items()}
        if trusted and "__tuple__" in value:
            return tuple(decode(v, arrays, trusted) for v in value["__tuple__"])
        if trusted and "__call__" in value:
            return Call(**{k: decode(v, arrays, trusted) for k, v in value["__call__"].items()})
        if trusted and "__build__" in value:
            return Build(value["__build__"], decode(value["params"], arrays, trusted))
        if set(value) == {"__device__"} and isinstance(value["__device__"], str):
            return DeviceValue(value["__device__"][:64])  # a dict an answer returns travels as __map__
        raise ValueError(f"unexpected object in data: keys {sorted(value)[:5]}")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"unexpected value of type {type(value).__name__}")


def save(path_stem: Path, value: Any, in_place: bool = False) -> None:
    """Write ``stem.json`` + ``stem.npz``: atomically (a temporary file renamed into place), or
    ``in_place`` into files that already exist (the answer's process, which may create no file in
    its job folder; the trusted side reads them only after that process has ended)."""
    arrays: dict[str, np.ndarray] = {}
    doc = json.dumps(encode(value, arrays))
    if in_place:
        for suffix, write in ((".npz", lambda f: np.savez(f, **arrays)), (".json", lambda f: f.write(doc.encode()))):
            fd = os.open(path_stem.with_suffix(suffix), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as f:
                write(f)
        return
    npz_tmp = path_stem.with_name(path_stem.name + ".tmp.npz")
    np.savez(npz_tmp, **arrays)
    os.replace(npz_tmp, path_stem.with_suffix(".npz"))
    json_tmp = path_stem.with_name(path_stem.name + ".tmp.json")
    json_tmp.write_text(doc)
    os.replace(json_tmp, path_stem.with_suffix(".json"))


def dumps(value: Any) -> bytes:
    """``value`` as bytes (the length of the JSON, the JSON, then the npz): for a pipe."""
    arrays: dict[str, np.ndarray] = {}
    doc = json.dumps(encode(value, arrays)).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return len(doc).to_bytes(8, "little") + doc + buffer.getvalue()


def loads(data: bytes, trusted: bool) -> Any:
    """The inverse of :func:`dumps`, with :func:`load`'s rules (nothing unpickled; only plain data
    when not ``trusted``; a stored archive of bounded size)."""
    size = int.from_bytes(data[:8], "little")
    if size > MAX_JSON_BYTES or len(data) > MAX_JSON_BYTES + MAX_NPZ_BYTES + 8:
        raise ValueError("too large")
    doc = json.loads(data[8:8 + size].decode("utf-8"))
    archive = io.BytesIO(data[8 + size:])
    if not trusted:
        _check_stored(archive)
    with np.load(archive, allow_pickle=False) as loaded:
        arrays = {k: loaded[k] for k in loaded.files}
    return decode(doc, arrays, trusted)


def _open_plain_file(path: Path, limit: int):
    """Open a file the untrusted side may have written: a regular file (never through a symlink,
    never a FIFO that would block us) of at most ``limit`` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ValueError(f"{path.name} is not a regular file")
    if info.st_size > limit:
        os.close(fd)
        raise ValueError(f"{path.name} is too large ({info.st_size} bytes)")
    return os.fdopen(fd, "rb")


def load(path_stem: Path, trusted: bool) -> Any:
    """Read ``stem.json`` + ``stem.npz``. Arrays never unpickle (``allow_pickle=False``); with
    ``trusted=False`` only plain data decodes, and the archive must be stored, not compressed, its
    members at most :data:`MAX_NPZ_BYTES` together (a few kilobytes of deflate can inflate to
    gigabytes in this process)."""
    json_path, npz_path = path_stem.with_suffix(".json"), path_stem.with_suffix(".npz")
    with _open_plain_file(json_path, MAX_JSON_BYTES) as f:
        doc = json.loads(f.read().decode("utf-8"))
    with _open_plain_file(npz_path, MAX_NPZ_BYTES) as f:
        if not trusted:
            _check_stored(f)
        with np.load(f, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    return decode(doc, arrays, trusted)


def _check_stored(f) -> None:
    """Refuse an archive the untrusted side compressed, or whose members claim more than
    :data:`MAX_NPZ_BYTES` in all (``np.savez`` stores members as they are)."""
    with zipfile.ZipFile(f) as archive:
        members = archive.infolist()
        if any(m.compress_type != zipfile.ZIP_STORED for m in members):
            raise ValueError("compressed arrays are not accepted from the answer's side")
        if sum(m.file_size for m in members) > MAX_NPZ_BYTES:
            raise ValueError("the arrays are too large")
    f.seek(0)
