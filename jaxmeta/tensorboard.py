"""TensorBoard scalars without TensorFlow: a minimal event-file writer and reader.

An event file (``events.out.tfevents.<unix time>.<hostname>.<pid>.jaxmeta``, TensorBoard's naming) is a
sequence of TFRecords::

    uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)

(little endian; CRC32C = Castagnoli, ``masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 mod 2**32``),
each ``data`` a protobuf ``tensorflow.Event``: ``wall_time`` (double, field 1, seconds since the epoch),
``step`` (int64, field 2) and one of ``file_version`` (string, field 3: ``"brain.Event:2"``, the first
record of every file), ``summary`` (field 5: ``Summary{repeated Value value = 1}``, ``Value{string tag = 1;
float simple_value = 2}``: one scalar per event here) or ``session_log`` (field 7: ``SessionLog{status = 1}``,
START = 1). A writer given ``purge_step`` writes a START event at that step after the version record
(as ``torch.utils.tensorboard.SummaryWriter(purge_step=...)``): TensorBoard then drops the run's earlier
events at steps >= purge_step, i.e. what an interrupted process logged after the checkpoint it is
resumed from.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

__all__ = ["EventWriter", "crc32c", "masked_crc32c", "read_scalars", "remove_event_files"]

FILE_PREFIX = "events.out.tfevents."
FILE_SUFFIX = ".jaxmeta"
FILE_VERSION = "brain.Event:2"
_SESSION_START = 1


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # reflected Castagnoli polynomial 0x1EDC6F41
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of `data`."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


# ------------------------------------------------------------------------------------------- protobuf
def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # int64: negative numbers as their two's complement (10 bytes)
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _event(wall_time: float, step: int, what: bytes) -> bytes:
    """An Event: wall_time (field 1, 64-bit), step (field 2, varint), then `what` (one encoded field)."""
    return b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step) + what


def _scalar_summary(tag: str, value: float) -> bytes:
    """Event field 5: Summary{value: [Value{tag, simple_value (field 2, 32-bit)}]}."""
    value_msg = _bytes_field(1, tag.encode()) + b"\x15" + struct.pack("<f", value)
    return _bytes_field(5, _bytes_field(1, value_msg))


def _fields(buf: bytes):
    """(field number, wire type, value) of a protobuf message: int for varint, bytes otherwise."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = buf[i : i + n], i + n
        elif wire == 2:
            n, i = _read_varint(buf, i)
            value, i = buf[i : i + n], i + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[i]
        n |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return n, i
        shift += 7


# --------------------------------------------------------------------------------------------- writer
class EventWriter:
    """Appends scalar events to a new event file in `logdir` (created if missing; nothing existing is
    touched). purge_step: see the module docstring."""

    def __init__(self, logdir: str | os.PathLike, purge_step: int | None = None):
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self.path = self.logdir / f"{FILE_PREFIX}{int(now)}.{socket.gethostname()}.{os.getpid()}{FILE_SUFFIX}"
        self._f = self.path.open("ab")  # append: a second writer of the same process and second continues it
        self._write(_event(now, 0, _bytes_field(3, FILE_VERSION.encode())))
        if purge_step is not None:
            self._write(_event(now, purge_step, _bytes_field(7, b"\x08" + _varint(_SESSION_START))))
        self.flush()

    def _write(self, event: bytes) -> None:
        self._f.write(_record(event))

    def add_scalar(self, tag: str, value: float, step: int, wall_time: float | None = None) -> None:
        """One scalar (stored as float32) at `step`; wall_time: seconds since the epoch (default now)."""
        self._write(
            _event(time.time() if wall_time is None else wall_time, int(step), _scalar_summary(tag, float(value)))
        )

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------------------------- reader
def _records(path: Path):
    """The data of each record of an event file (ValueError on a CRC mismatch; a truncated last
    record, e.g. of a process killed mid-write, ends the file)."""
    buf = path.read_bytes()
    i = 0
    while i + 12 <= len(buf):
        header, (crc_len,) = buf[i : i + 8], struct.unpack_from("<I", buf, i + 8)
        if crc_len != masked_crc32c(header):
            raise ValueError(f"corrupt record length at byte {i} of {str(path)!r} (CRC mismatch)")
        (n,) = struct.unpack("<Q", header)
        if i + 16 + n > len(buf):
            return
        data, (crc_data,) = buf[i + 12 : i + 12 + n], struct.unpack_from("<I", buf, i + 12 + n)
        if crc_data != masked_crc32c(data):
            raise ValueError(f"corrupt record at byte {i} of {str(path)!r} (CRC mismatch)")
        yield data
        i += 16 + n


def read_scalars(path: str | os.PathLike) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar of an event file, or of a directory's event files (one
    TensorBoard run; not its subfolders) in file-name order, as TensorBoard shows them: a session
    START event at step p drops the scalars read so far at steps >= p."""
    path = Path(path)
    files = sorted(f for f in path.glob(f"{FILE_PREFIX}*") if f.is_file()) if path.is_dir() else [path]
    out: list[tuple[str, int, float]] = []
    for f in files:
        for data in _records(f):
            step, summary, session_start = 0, None, False
            for field, wire, value in _fields(data):
                if field == 2 and wire == 0:
                    step = value - (1 << 64) if value >> 63 else value
                elif field == 5 and wire == 2:
                    summary = value
                elif field == 7 and wire == 2:
                    session_start = any(k == 1 and v == _SESSION_START for k, _, v in _fields(value))
            if session_start:
                out = [s for s in out if s[1] < step]
            for field, _, value in _fields(summary or b""):
                if field != 1:
                    continue
                tag, simple = None, None
                for k, wire, v in _fields(value):
                    if k == 1 and wire == 2:
                        tag = v.decode()
                    elif k == 2 and wire == 5:
                        (simple,) = struct.unpack("<f", v)
                if tag is not None and simple is not None:
                    out.append((tag, step, simple))
    return out


def remove_event_files(logdir: str | os.PathLike) -> None:
    """Delete the event files this module wrote under `logdir` (any depth; recognised by their name),
    then the folders that leaves empty, `logdir` included. Nothing else is removed."""
    logdir = Path(logdir)
    if not logdir.is_dir():
        return
    folders = set()
    for f in logdir.rglob(f"{FILE_PREFIX}*{FILE_SUFFIX}"):
        if f.is_file():
            f.unlink()
            folders.add(f.parent)
    for d in sorted(folders | {logdir}, key=lambda p: len(p.parts), reverse=True):
        while d != logdir.parent and d.is_dir() and not any(d.iterdir()):
            d.rmdir()
            d = d.parent
