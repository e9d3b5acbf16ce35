"""Campaign members: their folders, ``status.json`` (written atomically), the lock of the output
folder, liveness of running members and the classification of failures."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import write_atomic

from .schema import CampaignError



@dataclass
class Member:
    """One (temperature, replica) run."""

    index: int
    T: float
    replica: int
    seed: int
    dir: Path

    @property
    def name(self) -> str:
        return f"{self.dir.parent.name}_{self.dir.name}"

    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"


def _tname(T: float) -> str:
    s = f"{T:.6g}"
    return s.replace("+", "")


def _write_json(path: Path, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=1, default=str) + "\n")


def read_status(member: Member) -> dict | None:
    try:
        return json.loads(member.status_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


_DIGESTS: dict = {}


def _file_digest(path) -> str:
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = _file_digest_uncached(p)
    return _DIGESTS[key]


def _file_digest_uncached(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _pid_alive(pid) -> bool:
    """Whether process ``pid`` of this host runs (a zombie does not)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    except (TypeError, ValueError, OSError):
        return False
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


HOST = socket.gethostname()
LOCK_FILE = "campaign.lock"


class CampaignLocked(CampaignError):
    """The campaign folder is in use by another run."""


def _holder_text(h: dict) -> str:
    return (f"pid {h.get('pid')} on host {h.get('host')} (started {h.get('started')}"
            + (f", {' '.join(h['command'])}" if h.get("command") else "") + ")")


class CampaignLock:
    """Exclusive lock of a campaign folder: ``<output>/campaign.lock``.

    ``flock`` on the lock file (released by the kernel when the holder dies); the file
    holds the holder's host, pid and start time. A lock file left by a dead process of
    this host is stale and taken over; one of another host is refused unless forced
    (``--force-unlock``), since its holder cannot be checked from here.
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_FILE
        self.fd = None

    def holder(self) -> dict | None:
        try:
            text = self.path.read_text()
        except OSError:
            return None
        try:
            h = json.loads(text)
            return h if isinstance(h, dict) else None
        except json.JSONDecodeError:
            return {"host": "?", "pid": "?", "started": "?", "unreadable": text[:80]} if text.strip() else None

    def acquire(self, force: bool = False) -> str | None:
        """Take the lock (CampaignLocked if held); returns a note on a stale or forced lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        note = None
        old = self.holder()
        if force and old is not None:
            self.path.unlink(missing_ok=True)  # a holder still alive keeps only the unlinked file
            note = f"--force-unlock: took over the lock of {_holder_text(old)}"
            old = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        flock = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            h = self.holder() or {}
            raise CampaignLocked(
                f"the campaign folder {self.path.parent} is in use by {_holder_text(h)}; lock file "
                f"{self.path}. Wait for that run to end (or stop it); if it is not running any more, "
                "re-run with --force-unlock") from None
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                os.close(fd)
                raise
            flock = False  # file system without flock: the file's content is the lock
        old = self.holder() if old is not None else None
        if old is not None and old.get("pid") != os.getpid():
            same_host = old.get("host") == HOST
            if same_host and (flock or not _pid_alive(old.get("pid"))):
                note = (f"stale lock of {_holder_text(old)} removed (that process is not running)"
                        if not _pid_alive(old.get("pid")) else
                        f"stale lock of {_holder_text(old)} removed (it holds no lock)")
            else:
                os.close(fd)
                where = "another host" if not same_host else "a process still running"
                raise CampaignLocked(
                    f"the campaign folder {self.path.parent} is locked by {_holder_text(old)} on {where}; "
                    f"lock file {self.path}. If that run has ended, re-run with --force-unlock")
        info = {"host": HOST, "pid": os.getpid(), "started": _now(), "command": list(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        os.fsync(fd)
        self.fd = fd
        return note

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if (self.holder() or {}).get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = None


def liveness(st: dict | None, now: float | None = None) -> tuple[str, str]:
    """(state, detail) of a member from its status: a 'running' member whose process is gone
    (same host) or whose heartbeat is overdue (3 chunk intervals + 60 s) is 'dead'."""
    st = st or {}
    state = st.get("state", "pending")
    if state != "running":
        if state == "interrupted":
            return state, f"by {st.get('signal')}; resumes from {st.get('restart')}"
        if state == "failed":
            return state, f"({st.get('failure', 'permanent')}) {st.get('error')}"
        return state, ""
    hb = st.get("heartbeat") or {}
    now = time.time() if now is None else now
    age = now - float(hb.get("unix", 0.0) or 0.0)
    if st.get("host") == HOST and st.get("pid") is not None and not _pid_alive(st["pid"]):
        return "dead", f"process {st['pid']} on {HOST} is not running (last heartbeat {age:.0f} s ago)"
    limit = 3 * float(hb.get("interval_s") or 0.0) + 60.0
    if hb and age > limit:
        return "dead", f"no heartbeat for {age:.0f} s (expected every {hb.get('interval_s') or 0:.0f} s)"
    return "running", f"heartbeat {age:.0f} s ago" + (f" (pid {st.get('pid')} on {st.get('host')})"
                                                       if st.get("host") else "")


#: LAMMPS / OS messages of failures that a re-run can get past (disk full, I/O errors, files
#: that could not be opened or written); every other failure (lost atoms, bad input) is permanent
_TRANSIENT = ("no space left", "input/output error", "disk quota", "read-only file system", "cannot open",
              "cannot write", "cannot rename", "could not write", "could not open", "error writing", "write error",
              "permission denied", "is a directory", "not a directory", "stale file handle", "too many open files")


def classify_failure(msg: str, exc: BaseException | None = None) -> str:
    """'transient' (I/O: resume from the newest restart) or 'permanent' (start over)."""
    if isinstance(exc, OSError):
        return "transient"
    low = (msg or "").lower()
    return "transient" if any(p in low for p in _TRANSIENT) else "permanent"
