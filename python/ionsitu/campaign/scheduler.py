"""MPI scheduling of a campaign: failures of rank 0 raised on every rank, stop signals, and the
coordinator that hands members to the groups of ranks."""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from .members import Member, read_status
from .schema import CampaignError, _q

from .. import units as _units


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if exc.filename is not None else ""
        return f"{exc.strerror}{': ' + str(name) if name != '' else ''}"
    return _lammps_message(exc)


def on_root(comm, what: str, fn, *args, **kw):
    """Run ``fn`` on rank 0 of ``comm`` and hand its result to every rank.

    The one mechanism for steps that only rank 0 does (files, decisions): rank 0's
    exception is broadcast and :class:`CampaignError` ("<what>: <reason>") is raised on
    every rank, so no rank is left waiting in a collective. ``comm`` None: serial.
    """
    rank = 0 if comm is None else comm.Get_rank()
    result = error = None
    if rank == 0:
        try:
            result = fn(*args, **kw)
        except CampaignError as exc:  # already says what failed
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes collective
            error = f"{what}: {_describe(exc)}"
    if comm is not None and comm.Get_size() > 1:
        result, error = comm.bcast((result, error), root=0)
    if error is not None:
        raise CampaignError(error)
    return result


def on_all(comm, what: str, fn, *args, **kw):
    """Run ``fn`` on every rank of ``comm``; if it fails on any rank, raise
    :class:`CampaignError` on every rank with the message of the first failing rank."""
    result = error = None
    try:
        result = fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001
        error = f"{what}: {_describe(exc)}"
    if comm is not None and comm.Get_size() > 1:
        errors = comm.allgather(error)
        error = next((f"{e} (rank {i})" for i, e in enumerate(errors) if e is not None), None)
    if error is not None:
        raise CampaignError(error)
    return result


# ======================================================================================
# Stop signals (batch-scheduler wall time), heartbeat, lock of the campaign folder
# ======================================================================================
def signal_number(name) -> int:
    """'TERM', 'SIGUSR1', 'usr1' or 10 -> the signal number (ValueError if unknown or not catchable)."""
    if isinstance(name, int) and not isinstance(name, bool):
        sig = name
    else:
        n = str(name).strip().upper()
        n = n if n.startswith("SIG") else "SIG" + n
        sig = getattr(signal, n, None)
        if not isinstance(sig, int) or n.startswith("SIG_"):
            raise ValueError(f"unknown signal {name!r} (e.g. TERM, USR1, USR2, INT)")
    if sig in (signal.SIGKILL, signal.SIGSTOP):
        raise ValueError(f"signal {name!r} cannot be caught")
    try:
        signal.Signals(sig)
    except ValueError:
        raise ValueError(f"unknown signal {name!r}") from None
    return int(sig)


class StopRequest:
    """Set by the stop signals: the number of the first signal received (0: none).

    The handler only records the signal (Python runs it between two LAMMPS commands,
    never inside a ``run``); members check it at the end of every chunk.
    """

    def __init__(self):
        self.signum = 0
        self._old: dict[int, object] = {}

    def _handler(self, signum, frame):  # noqa: ARG002
        if not self.signum:
            self.signum = signum

    def install(self, names) -> None:
        for name in names:
            sig = signal_number(name)
            if sig not in self._old:
                self._old[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    @property
    def name(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum else None


def stop_requested(stop: StopRequest | None, comm) -> int:
    """Signal number any rank of ``comm`` received (0: none); collective on ``comm``."""
    s = stop.signum if stop is not None else 0
    if comm is not None and comm.Get_size() > 1:
        from mpi4py import MPI

        s = comm.allreduce(s, op=MPI.MAX)
    return s


# ======================================================================================
# Helpers
# ======================================================================================
def _lines(text: str) -> list[str]:
    """LAMMPS command lines of a block: '&' continuations joined, comments and blanks kept out."""
    out, cur = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("&"):
            cur += line[:-1] + " "
            continue
        line = cur + line
        cur = ""
        body = line.split("#", 1)[0].strip() if '"' not in line and "'" not in line else line.strip()
        if body and not body.startswith("#"):
            out.append(body)
    if cur.strip():
        out.append(cur.strip())
    return out


def _lammps_message(exc) -> str:
    msg = str(exc).strip()
    lines = [ln for ln in msg.splitlines() if not ln.startswith("For more information")]
    return " ".join(lines).replace("ERROR: ", "").strip() or type(exc).__name__


def _close(lmp):
    if lmp is None:
        return
    try:
        lmp.close()
    except Exception:  # noqa: BLE001 - a failed instance may not close cleanly
        pass


def _readable_restart(camp, path: Path) -> bool:
    """Serial trial read (before a multi-rank read_restart, whose errors on one rank hang)."""
    lmp = None
    try:
        lmp = camp._new_lammps(None, None)
        lmp.command(f"read_restart {_q(path)}")
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        _close(lmp)


def _diff_keys(a, b, prefix="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else k)
        return out
    return [] if a == b else [prefix or "(all)"]


def _fmt_dur(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _last_step(path: Path):
    """Last step in a progress file written by fix print (None if absent/empty)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            n = f.tell()
            f.seek(max(0, n - 256))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        parts = line.split()
        if parts and parts[0].isdigit():
            return int(parts[0])
    return None


_TAG_REQ, _TAG_ASSIGN = 71, 72


class _Coordinator:
    """Rank 0: hands out members to group leaders and prints progress (own thread).

    The thread polls for requests with ``Iprobe`` every 50 ms (a blocking receive would
    spin a core that rank 0's LAMMPS needs). Rank 0's own group takes members through
    :meth:`next_member` directly. Without MPI_THREAD_MULTIPLE (static split) the thread
    makes no MPI calls and only prints progress.
    """

    def __init__(self, camp, world, todo, ngroups, rpr, threaded, stream, every):
        self.camp, self.world, self.ngroups, self.rpr = camp, world, ngroups, rpr
        self.queue = list(todo)
        self.todo = list(todo)
        self.threaded, self.stream, self.every = threaded, stream, every
        self.lock = threading.Lock()
        self.told_done: set[int] = set()
        self.running: dict[int, dict] = {}  # member index -> {group, t0, step0}
        self.done = {"completed": 0, "failed": 0, "interrupted": 0}
        self.stopping = False  # a stop signal reached some group: hand out no more members
        self.t_start = time.time()
        self.steps_done = 0
        self.local_finished = False
        total = len(camp.members)
        skipped = total - len(todo)
        self._say(f"{camp.conf['campaign']['name']}: {total} members ({len(camp.temperatures)} T x "
                  f"{len(camp.conf['campaign']['seeds'])} replicas), {len(todo)} to run"
                  + (f", {skipped} already completed or failed" if skipped else "")
                  + f"; {ngroups} group(s) of {rpr} rank(s)"
                  + ("" if threaded or ngroups == 1 else "; static split (MPI has no THREAD_MULTIPLE)"))

    def _say(self, text):
        if self.stream is not None:
            print(f"[ionsitu campaign {time.strftime('%H:%M:%S')}] {text}", file=self.stream, flush=True)

    def start(self):
        self.thread = threading.Thread(target=self._loop, name="ionsitu-campaign", daemon=True)
        self.thread.start()

    def finish_local(self):
        """Rank 0's own group has no more members."""
        self.local_finished = True

    def join(self):
        self.thread.join()
        try:
            self.progress(final=True)
        except Exception as exc:  # noqa: BLE001 - the other ranks wait in the barrier
            self._say(f"progress line failed: {exc}")

    # -- scheduling --------------------------------------------------------------------
    def next_member(self, group, finished, stop=0) -> int:
        with self.lock:
            self._record(finished)
            self.stopping = self.stopping or bool(stop)
            if self.queue and not self.stopping:
                idx = self.queue.pop(0)
                self._started(idx, group)
                return idx
            self.told_done.add(group)
            return -1

    def record(self, finished):
        with self.lock:
            self._record(finished)

    def _record(self, finished):
        if not finished:
            return
        idx = finished["index"]
        info = self.running.pop(idx, None)
        state = finished.get("state") or "failed"
        self.stopping = self.stopping or state == "interrupted"
        self.done[state if state in self.done else "failed"] += 1
        m = self.camp.members[idx]
        if info is not None and finished.get("step") is not None:
            self.steps_done += max(0, int(finished["step"]) - info["step0"])
        tail = "" if state == "completed" else f": {finished.get('error')}"
        self._say(f"{m.name} {state} at step {finished.get('step')}{tail}")

    def started(self, m: Member, group: int):
        with self.lock:
            if m.index not in self.running:
                self._started(m.index, group)

    def _started(self, idx, group):
        try:
            st = read_status(self.camp.members[idx]) or {}
        except OSError:  # rank 0 only: never raise here (the other ranks do not wait for it)
            st = {}
        step0 = int(st.get("step", 0) or 0) if st.get("state") in ("running", "interrupted") else 0
        self.running[idx] = {"group": group, "t0": time.time(), "step0": step0}

    def _loop(self):
        try:
            self._loop_body()
        except BaseException:  # noqa: BLE001 - the leaders wait for this thread: end the job, say why
            sys.stderr.write("[ionsitu campaign] the coordinator on rank 0 failed; aborting the job\n"
                             + traceback.format_exc())
            sys.stderr.flush()
            from mpi4py import MPI

            MPI.COMM_WORLD.Abort(3)

    def _loop_body(self):
        from mpi4py import MPI

        last = time.time()
        while True:
            got = False
            if self.threaded and self.ngroups > 1:
                while self.world.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_REQ):
                    got = True
                    self._serve()
            if not got:
                time.sleep(0.05)
            if time.time() - last >= self.every:
                last = time.time()
                try:
                    self.progress()
                except Exception as exc:  # noqa: BLE001 - progress is a courtesy
                    self._say(f"progress line failed: {exc}")
            if self.threaded and len(self.told_done) >= self.ngroups:
                return
            if not self.threaded and self.local_finished:
                return

    def _serve(self):
        from mpi4py import MPI

        status = MPI.Status()
        msg = self.world.recv(source=MPI.ANY_SOURCE, tag=_TAG_REQ, status=status)
        idx = self.next_member(msg["group"], msg["finished"], msg.get("stop", 0))
        self.world.send(idx, dest=status.Get_source(), tag=_TAG_ASSIGN)

    # -- progress ------------------------------------------------------------------------
    def progress(self, final=False):
        if self.stream is None:
            return
        with self.lock:
            running = dict(self.running)
            steps_done = self.steps_done
        now = time.time()
        per_member = self.camp.target_step
        states = [(read_status(self.camp.members[i]) or {}).get("state") for i in self.todo]
        n_ok, n_fail = states.count("completed"), states.count("failed")
        parts, rates, steps_now, remaining = [], [], steps_done, 0
        for idx, info in running.items():
            m = self.camp.members[idx]
            s = _last_step(m.dir / "progress.txt")
            s = info["step0"] if s is None or s < info["step0"] else s
            el = now - info["t0"]
            if el > 1 and s > info["step0"]:
                rates.append((s - info["step0"]) / el)
            steps_now += s - info["step0"]
            remaining += max(0, per_member - s)
            parts.append(f"{m.name} {s}/{per_member}")
        remaining += max(0, len(self.todo) - n_ok - n_fail - len(running)) * per_member
        elapsed = now - self.t_start
        rate = steps_now / elapsed if elapsed > 0 else 0.0  # campaign steps/s, all groups
        per_run = (sum(rates) / len(rates)) if rates else rate / max(1, self.ngroups)
        eta = remaining / rate if rate > 0 else float("nan")
        dt = self.camp.conf["campaign"]["timestep"]
        style = _units.get_style(self.camp.units)
        if style.reduced:
            speed = f"{per_run * dt * 86400:.4g} tau/day"
        else:
            speed = f"{per_run * dt * style.time_s * 86400 / 1e-9:.4g} ns/day"
        line = (f"{'finished' if final else 'progress'}: {n_ok + n_fail}/{len(self.todo)} members done "
                f"({n_fail} failed), {steps_now} steps in {_fmt_dur(elapsed)}, "
                f"{per_run:.4g} steps/s = {speed} per run")
        if not final:
            line += f", ETA {_fmt_dur(eta)}"
            if parts:
                line += "; running " + ", ".join(parts)
        self._say(line)
