"""The embedded mode's durable queue: an append-only log of jobs on local disk.

In production the Redis Stream (with AOF) holds an accepted request until the consumer
has stored it. The embedded mode has no Redis, so the same promise ("200 means it will
be stored once") is kept by this spool, next to the chdb directory:

- `append(payload)` writes one record (length, CRC-32, sequence number, payload) and
  returns once it is on disk (`fdatasync`). Concurrent appends share one sync (group
  commit), so eight requests cost about one disk flush, not eight.
- The writer stores the jobs in ClickHouse, then `commit(seq)` records that every
  record up to `seq` is stored (a checkpoint file replaced atomically).
- After a crash (kill -9, power loss), `pending()` yields every record after the
  checkpoint; the writer stores them again. Events carry their uuid and the store
  drops uuids it already has, so a record stored just before the crash is not counted
  twice. A record cut short by the crash (never acknowledged: its sync had not
  returned) is cut off.

Records live in segment files named after their first sequence number; a segment is
removed once the checkpoint has passed its last record. A failed write (a full disk)
truncates the segment back to where the record began and raises SpoolFull, so a
later record never follows a torn one.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

HEADER = struct.Struct("<IIQ")  # payload length, CRC-32 of the payload, sequence number
SEGMENT_SUFFIX = ".seg"
CHECKPOINT = "checkpoint"
MAX_RECORD = 256 * 1024 * 1024


class SpoolFull(Exception):
    """The record could not be written (no disk space, I/O error): nothing was accepted."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backlog(directory: str | os.PathLike) -> int:
    """Records after the checkpoint in a spool another process may be writing (read-only:
    a record still being written ends the count). Monitoring and the fault suite use it."""
    folder = Path(directory)
    try:
        checkpoint = int((folder / CHECKPOINT).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        checkpoint = 0
    waiting = 0
    for path in sorted(folder.glob(f"*{SEGMENT_SUFFIX}")):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # removed by a checkpoint meanwhile
            continue
        offset = 0
        while offset + HEADER.size <= len(data):
            length, _, seq = HEADER.unpack_from(data, offset)
            if offset + HEADER.size + length > len(data):
                break
            waiting += seq > checkpoint
            offset += HEADER.size + length
    return waiting


class Spool:
    def __init__(self, directory: str | os.PathLike, segment_bytes: int = 64 * 1024 * 1024):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()  # append order = sequence order
        self._cond = threading.Condition()  # sync state
        self._syncing = False
        self._written = 0  # highest sequence written to the current segment
        self._synced = 0  # highest sequence known to be on disk
        self.checkpoint = self._read_checkpoint()
        self._segments = self._scan()  # [(first_seq, path)] in order
        self._next = self.checkpoint + 1
        self._fd: int | None = None
        self._size = 0
        self.syncs = 0

    # ------------------------------------------------------------ recovery

    def _read_checkpoint(self) -> int:
        try:
            return int((self.dir / CHECKPOINT).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _scan(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.dir.glob(f"*{SEGMENT_SUFFIX}"):
            try:
                found.append((int(path.stem), path))
            except ValueError:
                continue
        return sorted(found)

    def pending(self) -> Iterator[tuple[int, bytes]]:
        """Every intact record after the checkpoint, in order; call once, before the first
        append. A torn tail (a record the crash cut short) is truncated away."""
        last = self.checkpoint
        for index, (_, path) in enumerate(self._segments):
            final = index == len(self._segments) - 1
            with open(path, "r+b") as file:
                offset = 0
                while True:
                    header = file.read(HEADER.size)
                    if not header:
                        break
                    if len(header) == HEADER.size:
                        length, crc, seq = HEADER.unpack(header)
                        payload = file.read(length) if length <= MAX_RECORD else b""
                        intact = len(payload) == length and zlib.crc32(payload) == crc
                    else:
                        intact = False
                    if not intact:
                        if final:
                            log.warning("spool %s: cutting a torn record at byte %d", path.name, offset)
                            file.truncate(offset)
                            os.fsync(file.fileno())
                        else:
                            log.error(
                                "spool %s: unreadable record at byte %d; skipping the rest", path, offset
                            )
                        break
                    offset += HEADER.size + length
                    last = max(last, seq)
                    if seq > self.checkpoint:
                        yield seq, payload
        self._next = last + 1
        self._written = self._synced = last

    # ------------------------------------------------------------ appending

    def _open_segment(self) -> None:
        if self._fd is not None:
            with self._cond:
                while self._syncing:  # a sync of this segment is under way: let it finish
                    self._cond.wait()
                os.fsync(self._fd)  # the records of the segment being closed are on disk
                os.close(self._fd)
                self._fd = None
                self._synced = self._written
        path = self.dir / f"{self._next:020d}{SEGMENT_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_dir(self.dir)
        with self._cond:
            self._fd = fd
        self._size = os.fstat(fd).st_size
        if all(existing != path for _, existing in self._segments):
            self._segments.append((self._next, path))

    def append(self, payload: bytes, ordered: Callable[[int], None] | None = None) -> int:
        """Write one record and return its sequence number once it is on disk.

        `ordered(seq)` runs under the append lock, right after the write: what it does
        (the writer queues the job) happens in sequence order."""
        with self._lock:
            seq = self._next
            record = HEADER.pack(len(payload), zlib.crc32(payload), seq) + payload
            start = None
            try:
                if self._fd is None or self._size >= self.segment_bytes:
                    self._open_segment()
                start = self._size
                view = memoryview(record)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError as exc:
                self._undo(start)
                raise SpoolFull(f"the ingestion spool could not write ({exc.strerror or exc})") from exc
            self._size += len(record)
            self._next = seq + 1
            with self._cond:
                self._written = seq
            if ordered is not None:
                ordered(seq)
        self._wait_synced(seq)
        return seq

    def _undo(self, start: int | None) -> None:
        if self._fd is None or start is None:
            return
        try:
            os.ftruncate(self._fd, start)
        except OSError:  # the next open appends after whatever is there; pending() cuts it
            log.exception("spool: could not truncate a failed record")
            os.close(self._fd)
            self._fd = None

    def _wait_synced(self, seq: int) -> None:
        with self._cond:
            while self._synced < seq:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target, fd = self._written, self._fd
                self._cond.release()
                try:
                    os.fdatasync(fd)
                except OSError as exc:
                    raise SpoolFull(f"the ingestion spool could not sync ({exc.strerror or exc})") from exc
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self.syncs += 1
                self._synced = max(self._synced, target)

    @property
    def last_seq(self) -> int:
        """The sequence number of the last record appended (0: none yet)."""
        return self._next - 1

    # ------------------------------------------------------------ checkpoint

    def commit(self, seq: int) -> None:
        """Every record up to `seq` is stored: move the checkpoint, drop passed segments."""
        if seq <= self.checkpoint:
            return
        tmp = self.dir / (CHECKPOINT + ".tmp")
        with open(tmp, "w") as out:
            out.write(str(seq))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.dir / CHECKPOINT)
        self.checkpoint = seq
        with self._lock:
            # A segment is done when the next one starts at or below checkpoint + 1.
            while len(self._segments) > 1 and self._segments[1][0] <= seq + 1:
                _, path = self._segments.pop(0)
                path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
