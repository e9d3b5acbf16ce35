"""Temperature x replica campaigns: one TOML file, many LAMMPS runs under one ``mpirun``.

    mpirun -np P ionsitu campaign run campaign.toml      # run (or resume) every member
    ionsitu campaign report campaign.toml                # report from what is finished

A *member* is one (temperature, replica) MD run: equilibration (NVT or NpT) and an NVT
production run with the in-situ analyses switched on: ``fix msd/cross`` (always),
``fix occupancy/grid`` ([analysis.occupancy_grid]: ``occupancy.npz``/``.cube``) and
``fix hop/events`` ([analysis.hop_events]: ``hops.txt``, with the sites written to the
member's ``sites.txt`` right before the fix is defined). Each member has its own folder
``<output>/T<T>/r<replica>/`` with the LAMMPS log, the fix outputs, two alternating restart
files and ``status.json``. New analyses subclass :class:`Analysis` (keys, check, prepare,
commands, outputs, fingerprint) and are listed in ``ANALYSES``.

Scheduling: ``MPI.COMM_WORLD`` is split into groups of ``ranks_per_run`` ranks, one LAMMPS
instance per group (``lammps(comm=subcomm)``). Rank 0 leads group 0 and runs members like
every other group; a coordinator thread on rank 0 hands out the next member to any
group leader that asks (MPI messages polled with ``Iprobe``, so it costs no CPU while the
LAMMPS of rank 0 runs), and prints the progress. Members go out replica-major (replica 0
of every temperature first) so a partial campaign already gives a full Arrhenius plot.

Failure: every LAMMPS call is wrapped; a LAMMPS error (``error->all``: every rank of the
group raises it together) is recorded in the member's ``status.json`` with the command
that failed and its class: *transient* (I/O: disk full, a file that cannot be opened or
written) or *permanent* (lost atoms, bad input); the group goes on with the next member.
Work that only rank 0 does (folders, status files, decisions) runs through
:func:`on_root`: its exception reaches every rank of the communicator as
:class:`CampaignError`, so no rank waits in a collective for a rank that failed (a
member's folder: the member fails; the campaign's output folder: every rank ends with the
message). An ``error->one`` on a single rank of a multi-rank group cannot be recovered
(the other ranks of that group wait inside LAMMPS): the member is recorded as failed and
the whole job aborts; the next invocation skips it. With ``ranks_per_run = 1`` every
error is recoverable.

Resume: running the same command again skips completed (and failed, unless
``retry_failed``) members. An interrupted member (stop signal, kill) restarts from its
newest readable restart file (``read_restart``, then the same fixes with the same IDs, so
``fix msd/cross`` and the thermostat restore their state) and runs only the remaining
steps. ``retry_failed`` resumes a transient failure the same way and starts a permanent
one over. Raising ``production.steps`` later extends completed members the same way
(from ``restart.end``). Settings that change the physics of a member that already ran
are refused (with the list of changed keys).

Batch schedulers: the MD runs in ``run N upto`` chunks ending at multiples of
``campaign.chunk_steps`` (the same boundaries in every attempt). After each chunk rank 0
of the group writes a heartbeat (step, time, the chunk's wall time) into ``status.json``
and the group checks for a stop signal (``campaign.stop_signals``, default SIGTERM and
SIGUSR1; an allreduce over the group, so every rank stops at the same step): then it
writes ``restart.stop``, records ``interrupted``, no new member starts and the job exits
with status 4. The latency is one chunk's wall time plus the restart write. The output
folder is locked for the run (:class:`CampaignLock`, ``campaign.lock``).

GPUs (not testable here): with ``campaign.gpus_per_node = K > 0`` each rank sets
``CUDA_VISIBLE_DEVICES`` before LAMMPS or TensorFlow start, to ``(local_rank //
ranks_per_run) % K`` with ``gpu_mapping = "group"`` (one GPU per run, default) or to
``local_rank % K`` with ``gpu_mapping = "rank"`` (one GPU per rank, for multi-rank
DeePMD runs); ``local_rank`` is the rank within the node (``MPI_COMM_TYPE_SHARED``).
Launch ``mpirun -np <K x ranks_per_run per node>`` for one run per GPU.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .analyses import ANALYSES, Analysis
from .config import load_config
from .gpu import ResourcesMixin
from .inputs import InputsMixin
from .members import (HOST, CampaignLock, Member, _file_digest, _now, _tname,
                      _write_json, classify_failure, read_status)
from .scheduler import (_TAG_ASSIGN, _TAG_REQ, StopRequest, _close, _Coordinator, _describe, _diff_keys,
                        _lammps_message, _readable_restart, on_all, on_root, stop_requested)
from .schema import STATUS_SCHEMA, STATUS_VERSION, CampaignError, ConfigError, _q



# ======================================================================================
# The campaign
# ======================================================================================


class Campaign(InputsMixin, ResourcesMixin):
    """A temperature x replica campaign described by a TOML file.

    >>> c = Campaign.from_toml("campaign.toml")       # validates (ConfigError lists all problems)
    >>> c.run()                                        # under mpirun: every rank calls it
    >>> c.report()                                     # dict; also writes report.json/.html
    """

    def __init__(self, conf: dict, path: Path):
        self.conf = conf
        self.path = Path(path).resolve()
        self.output = Path(conf["campaign"]["output"]).resolve()
        cam = conf["campaign"]
        self.units = cam["units"]
        self.temperatures = list(cam["temperatures"])
        self.members: list[Member] = []
        for r, seed in enumerate(cam["seeds"]):
            for T in self.temperatures:
                d = self.output / f"T{_tname(T)}" / f"r{r}"  # `ionsitu analyze <output>` reads this layout
                self.members.append(Member(len(self.members), float(T), r, int(seed), d))
        eq, prod = conf["equilibration"], conf["production"]
        self.eq_steps = int(eq["steps"])
        self.target_step = self.eq_steps + int(prod["steps"])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_toml(cls, path, *, check_lammps: bool = False) -> "Campaign":
        """Read and validate ``path``; with ``check_lammps`` also build the system and the
        potential once in LAMMPS (serial) to check types, masses and the pair style."""
        conf = load_config(path)
        camp = cls(conf, path)
        if check_lammps:
            errors = camp.check_lammps()
            if errors:
                raise ConfigError(errors, str(path))
        return camp

    @property
    def analyses(self) -> dict[str, tuple[Analysis, dict]]:
        return {n: (ANALYSES[n], cfg) for n, cfg in self.conf["analysis"].items()}

    def member(self, T: float, replica: int) -> Member:
        for m in self.members:
            if abs(m.T - T) <= 1e-12 * max(1.0, abs(T)) and m.replica == replica:
                return m
        raise KeyError((T, replica))

    def statuses(self) -> dict[str, dict | None]:
        return {m.name: read_status(m) for m in self.members}

    def outputs(self, m: Member) -> dict[str, Path]:
        """The member's output files of every analysis of the campaign ({name: path}: msd,
        grid, cube, events, sites; only the analyses switched on), as the fixes write them."""
        out: dict[str, Path] = {}
        for a, _cfg in self.analyses.values():
            out.update(a.outputs(m.dir))
        return out

    # ------------------------------------------------------------------ fingerprint
    def settings(self, member: Member) -> dict:
        """What determines a member's physics; compared when a member resumes."""
        c = self.conf
        sysc = {k: v for k, v in c["system"].items() if not k.startswith("_")}
        for k in ("data", "lammps", "structure"):
            if sysc.get(k) is not None:
                sysc[k + "_sha256"] = _file_digest(sysc[k])
                sysc[k] = str(sysc[k])
        pot = dict(c["potential"])
        if pot.get("deepmd"):
            pot["deepmd_sha256"] = [_file_digest(m) for m in pot["deepmd"]]
            pot["deepmd"] = [str(m) for m in pot["deepmd"]]
        ana = {n: ANALYSES[n].fingerprint(cfg) for n, cfg in c["analysis"].items()}
        return json.loads(json.dumps({
            "units": self.units, "timestep": c["campaign"]["timestep"], "T": member.T,
            "seed": member.seed, "system": sysc, "potential": pot, "mobile": c["mobile"],
            "equilibration": c["equilibration"], "production_tdamp": c["production"]["tdamp"],
            "lammps": c["lammps"], "analysis": ana,
        }, default=str))

    def _settings_cache(self):
        if not hasattr(self, "_settings_memo"):
            self._settings_memo = {}
        return self._settings_memo

    def member_settings(self, m: Member) -> dict:
        memo = self._settings_cache()
        if m.name not in memo:
            memo[m.name] = self.settings(m)
        return memo[m.name]

    def changed_settings(self) -> list[tuple[str, str]]:
        """(member key, reason) for members that ran with different physics settings."""
        errs = []
        for m in self.members:
            st = read_status(m)
            if not st or "settings" not in st:
                continue
            now = self.member_settings(m)
            diff = _diff_keys(st["settings"], now)
            if diff:
                errs.append((f"member {m.name}", "ran with different settings (changed: "
                             + ", ".join(diff) + "); restore them, or delete its folder to start it over"))
        return errs
    def check_output(self) -> list[tuple[str, str]]:
        """(key, reason) if the output folder or an existing member folder cannot be written."""
        out = self.output
        p = out
        while not p.exists() and p != p.parent:
            p = p.parent
        if not p.is_dir():
            return [("campaign.output", f"cannot create the output folder {out}: {p} is not a folder")]
        folders = [p] + [m.dir for m in self.members if m.dir.exists()]
        for d in folders:
            if not d.is_dir():
                return [("campaign.output", f"{d} exists and is not a folder")]
            try:
                fd, probe = tempfile.mkstemp(dir=d, prefix=".ionsitu-probe-")
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                what = "the output folder" if d == p else "a member folder"
                return [("campaign.output", f"cannot write in {d} ({what} of {out}): {exc.strerror}")]
        return []

    def _new_lammps(self, comm, log):
        """A LAMMPS instance on ``comm`` (None: serial) that sees ionsitu's (and DeePMD's) styles."""
        deep = bool(self.conf["potential"].get("deepmd"))
        if deep:
            from ..deepmd import preload_deepmd

            preload_deepmd()
        from .._libs import import_lammps  # libmpi preloaded by ionsitu; no TensorFlow unless deep

        lammps = import_lammps(deepmd=deep).lammps

        args = ["-screen", "none", "-nocite", "-log", "none" if log is None else str(log)]
        if comm is None:
            try:
                from mpi4py import MPI

                comm = MPI.COMM_SELF
            except ImportError:  # pragma: no cover
                comm = None
        lmp = lammps(comm=comm, cmdargs=args) if comm is not None else lammps(cmdargs=args)
        if deep:
            from ..deepmd import load_deepmd_plugin

            load_deepmd_plugin(lmp)
        return lmp

    # ------------------------------------------------------------------ one member
    RESTART_FILES = ("restart.a", "restart.b", "restart.stop", "restart.end")

    def restarts(self, m: Member) -> list[Path]:
        """The member's restart files, newest first."""
        files = [m.dir / n for n in self.RESTART_FILES if (m.dir / n).is_file()]
        return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)

    def plan(self, m: Member, retry_failed: bool = False) -> dict:
        """What to do with a member: {'action': skip|fresh|resume, 'restarts': [...], 'reason'}.

        Interrupted (signal, kill) members resume from their newest readable restart. Failed
        members are skipped unless ``retry_failed``: then a transient failure (I/O, disk
        full) resumes from the newest readable restart, a permanent one starts over.
        """
        st = read_status(m)
        if st is None:
            return {"action": "fresh", "restarts": []}
        state = st.get("state")
        if state == "failed" and not retry_failed:
            return {"action": "skip", "reason": "failed", "restarts": []}
        restarts = [str(p) for p in self.restarts(m)]
        if state == "failed":
            if st.get("failure") == "transient" and restarts:
                return {"action": "resume", "restarts": restarts, "retry": True}
            return {"action": "fresh", "restarts": [], "retry": True}
        if state == "completed" and int(st.get("step", -1)) >= self.target_step:
            return {"action": "skip", "reason": "completed", "restarts": []}
        if restarts:
            return {"action": "resume", "restarts": restarts}
        return {"action": "fresh", "restarts": []}

    def _begin_member(self, m: Member, retry_failed: bool):
        """Rank 0: the plan, the member's folder (cleared for a fresh start) and its history."""
        plan = self.plan(m, retry_failed)
        if plan["action"] == "skip":
            return plan, read_status(m), [], None
        st = read_status(m) or {}
        m.dir.mkdir(parents=True, exist_ok=True)
        if plan["action"] == "fresh":  # from scratch: keep the old log and the history
            for p in m.dir.iterdir():
                if p.name == "log.lammps" and st:
                    p.rename(m.dir / f"log.attempt{len(st.get('attempts', []))}.lammps")
                elif p.name not in ("status.json",) and not p.name.startswith("log.attempt") and p.is_file():
                    p.unlink()
            st = {"attempts": st.get("attempts", []), "step": 0}
        return plan, st, list(st.get("attempts", [])), self.member_settings(m)

    def run_member(self, m: Member, comm=None, retry_failed: bool = False, group: int = 0,
                   stop: StopRequest | None = None) -> dict:
        """Run (or resume) one member on the ranks of ``comm``; returns its final status.

        Every rank of ``comm`` calls this, and it returns on every rank together: LAMMPS
        errors and the failures of rank 0's file work are recorded (state 'failed', with
        ``failure`` transient or permanent); a stop signal (``stop``) ends it at the next
        chunk end with a restart file and state 'interrupted'.
        """
        rank = 0 if comm is None else comm.Get_rank()
        t0 = time.time()
        status = {
            "schema": STATUS_SCHEMA, "version": STATUS_VERSION, "member": m.name, "temperature": m.T,
            "replica": m.replica, "seed": m.seed, "units": self.units, "state": "running", "step": 0,
            "equilibration_steps": self.eq_steps, "target_step": self.target_step,
            "error": None, "error_key": None, "error_command": None, "failure": None,
            "ranks": 1 if comm is None else comm.Get_size(), "group": group, "host": HOST, "pid": os.getpid(),
        }
        attempts: list = []
        warned = []

        def write(state, **kw):
            """Rank 0 records the state (best effort: a status that cannot be written is said)."""
            status.update(state=state, updated=_now(), attempts=attempts, **kw)
            if rank != 0:
                return
            try:
                _write_json(m.status_path, status)
            except OSError as exc:
                if not warned:
                    warned.append(1)
                    sys.stderr.write(f"[ionsitu campaign] {m.name}: cannot write {m.status_path}: {_describe(exc)}\n")

        def fail(msg, exc=None, **kw):
            write("failed", error=msg, failure=classify_failure(msg, exc),
                  wall_seconds=round(time.time() - t0, 3), **kw)
            return status

        try:
            plan, st, attempts, settings = on_root(comm, f"member {m.name}", self._begin_member, m, retry_failed)
        except CampaignError as exc:
            return fail(str(exc), error_key="campaign.output")
        if plan["action"] == "skip":
            return st if rank == 0 else {}
        n_attempt = len(attempts) + 1
        status["step"] = int(st.get("step", 0))
        status["settings"] = settings

        # the restart file: the newest that LAMMPS reads (a kill may leave a partial one)
        lmp = None
        start_step = 0
        used = None
        for cand in [Path(p) for p in plan["restarts"]] + [None]:  # None: from scratch
            if comm is not None and comm.Get_size() > 1 and cand is not None:
                # serial trial read first: a multi-rank read_restart that fails on one rank hangs
                if not on_root(comm, "restart check", _readable_restart, self, cand):
                    continue
            try:
                lmp = self._new_lammps(comm, None)
                if cand is not None:
                    lmp.command(f"log {_q(m.dir / 'log.lammps')} append")
                    lmp.command(f"read_restart {_q(cand)}")
                    start_step = int(lmp.extract_global("ntimestep"))
                used = cand
                break
            except Exception as exc:  # noqa: BLE001 - unreadable restart: try the older one
                _close(lmp)
                lmp = None
                if cand is None:
                    attempts.append({"attempt": n_attempt, "started": _now(), "from_step": 0})
                    return fail(_lammps_message(exc), exc, error_key="(lammps)")
        attempts.append({"attempt": n_attempt, "started": _now(), "from_step": start_step,
                         "restart": None if used is None else used.name, "ranks": status["ranks"]})
        status["step"] = start_step
        status["heartbeat"] = {"step": start_step, "time": _now(), "unix": time.time(), "interval_s": None}
        try:  # a member folder that cannot be written fails the member, on every rank
            on_root(comm, f"member {m.name}", _write_json, m.status_path,
                    {**status, "state": "running", "updated": _now(), "attempts": attempts})
        except CampaignError as exc:
            _close(lmp)
            return fail(str(exc), error_key="campaign.output")
        cmds = self.input_script(m, start_step, used, n_attempt)
        if used is not None:  # log + read_restart already done
            cmds = [c for c in cmds if not c[1].startswith(("log ", "read_restart "))]
        key = cmd = None
        chunk = int(self.conf["campaign"]["chunk_steps"])
        try:
            prepared = set()
            for key, cmd in cmds:
                if key.count(".") == 1 and key.startswith("analysis.") and key not in prepared:  # before its fix
                    prepared.add(key)
                    a, cfg = self.analyses[key.split(".", 1)[1]]
                    a.prepare(cfg, self.conf, m.dir, lmp, comm)
                upto = cmd.split()
                if len(upto) == 3 and upto[0] == "run" and upto[2] == "upto":
                    signum = self._run_chunks(lmp, int(upto[1]), chunk, comm, stop, status, write)
                    if signum:
                        cmd = f"write_restart {_q(m.dir / 'restart.stop')}"
                        lmp.command(cmd)
                        step = int(lmp.extract_global("ntimestep"))
                        write("interrupted", step=step, signal=signal.Signals(signum).name,
                              restart="restart.stop", wall_seconds=round(time.time() - t0, 3))
                        return status
                else:
                    lmp.command(cmd)
            step = int(lmp.extract_global("ntimestep"))
            setup = self._system_commands() + self._potential_commands(None, 1) + self._extra_commands()
            for name, (a, cfg) in self.analyses.items():
                key, cmd = f"analysis.{name}", "(after the production run)"
                a.finish(cfg, self.conf, m.dir, lambda: self._new_lammps(comm, None), setup, comm)
            write("completed", step=step, wall_seconds=round(time.time() - t0, 3))
        except Exception as exc:  # noqa: BLE001 - LAMMPS error: record it, go on
            msg = _lammps_message(exc)
            try:
                step = int(lmp.extract_global("ntimestep"))
            except Exception:  # noqa: BLE001
                step = status["step"]
            fail(msg, exc, step=step, error_key=key, error_command=cmd)
            if type(exc).__name__ == "MPIAbortException" and comm is not None and comm.Get_size() > 1:
                # error->one on one rank: the others of this group wait in a collective forever
                sys.stderr.write(f"[ionsitu campaign] {m.name}: unrecoverable LAMMPS error on one rank "
                                 f"of a {comm.Get_size()}-rank group ({msg}); recorded; aborting the job\n")
                sys.stderr.flush()
                from mpi4py import MPI

                MPI.COMM_WORLD.Abort(3)
        finally:
            _close(lmp)
        return status

    def _run_chunks(self, lmp, target: int, chunk: int, comm, stop, status, write) -> int:
        """``run target upto`` as runs ending at multiples of ``chunk`` (the same boundaries
        in every attempt); after each: heartbeat, then the stop check. Returns the signal
        number that stopped it (0: reached ``target``)."""
        step = int(lmp.extract_global("ntimestep"))
        while True:
            nxt = min(target, (step // chunk + 1) * chunk)
            t = time.time()
            lmp.command(f"run {nxt} upto")
            step = int(lmp.extract_global("ntimestep"))
            write("running", step=step, heartbeat={"step": step, "time": _now(), "unix": time.time(),
                                                   "interval_s": round(time.time() - t, 3)})
            if step >= target:
                return 0
            signum = stop_requested(stop, comm)
            if signum:
                return signum

    # ------------------------------------------------------------------ the whole campaign
    def run(self, comm=None, ranks_per_run: int | None = None, *, retry_failed: bool = False,
            progress: bool = True, progress_every: float | None = None, write_report: bool = True,
            stream=None, stop_signals=None, force_unlock: bool = False, stop: StopRequest | None = None) -> dict:
        """Run every member not done yet, distributing them over groups of ranks.

        Every rank of ``comm`` (default ``MPI.COMM_WORLD``) calls this. Returns (on
        rank 0; {} elsewhere) {'members': {name: state}, 'report': paths or None,
        'interrupted': signal name or None}. The campaign folder is locked for the run
        (:class:`CampaignLocked` if another run holds it; ``force_unlock`` takes it over).
        ``stop_signals`` (default ``campaign.stop_signals``) stop it cleanly: every
        running member writes ``restart.stop`` at its next chunk end and is recorded
        'interrupted', no new member starts, no report is written. A failure of rank 0's
        file work raises :class:`CampaignError` on every rank.
        """
        from mpi4py import MPI

        world = (comm or MPI.COMM_WORLD).Dup()
        rank, size = world.Get_rank(), world.Get_size()
        rpr = int(ranks_per_run or self.conf["campaign"]["ranks_per_run"])
        stream = stream or sys.stdout
        if size % rpr:
            world.Free()
            raise CampaignError(f"{size} MPI ranks do not split into groups of ranks_per_run = {rpr}")
        own_stop = stop is None
        stop = StopRequest() if stop is None else stop
        try:
            on_all(world, "stop signals", stop.install,
                   self.conf["campaign"]["stop_signals"] if stop_signals is None else stop_signals)
            lock = CampaignLock(self.output)
            note = on_root(world, f"campaign output {self.output}", lock.acquire, force_unlock)
            try:
                if note and rank == 0 and progress:
                    print(f"[ionsitu campaign] {note}", file=stream, flush=True)
                return self._run_locked(world, rpr, retry_failed, progress, progress_every, write_report,
                                        stream, stop)
            finally:
                if rank == 0:
                    lock.release()
        finally:
            if own_stop:
                stop.restore()
            world.Free()

    def _start(self, retry_failed: bool) -> list[int]:
        """Rank 0, before the work loop: the output folder, campaign.json, the members to run."""
        self.output.mkdir(parents=True, exist_ok=True)
        _write_json(self.output / "campaign.json", {
            "schema": "ionsitu-campaign", "version": 1, "config": str(self.path),
            "name": self.conf["campaign"]["name"], "units": self.units,
            "temperatures": self.temperatures, "members": [m.name for m in self.members]})
        todo = [m.index for m in self.members if self.plan(m, retry_failed)["action"] != "skip"]
        if self.conf["system"].get("structure") is not None:
            self.structure_data()
        return todo

    def _run_locked(self, world, rpr, retry_failed, progress, progress_every, write_report, stream, stop):
        from mpi4py import MPI

        rank, size = world.Get_rank(), world.Get_size()
        ngroups = size // rpr
        group = rank // rpr
        sub = world.Split(group, rank)
        self._set_gpu(world, rpr)
        self._set_threads(world)

        # rank 0 decides what is left to do (all ranks see the same files, but decide once)
        todo = on_root(world, f"campaign output {self.output}", self._start, retry_failed)
        threaded = size == 1 or MPI.Query_thread() >= MPI.THREAD_MULTIPLE
        coord = None
        if rank == 0:
            coord = _Coordinator(self, world, todo, ngroups, rpr, threaded, stream if progress else None,
                                 progress_every or self.conf["campaign"]["progress_every"])
            coord.start()

        # ------------------------------------------------------------ worker loop
        # threaded (MPI_THREAD_MULTIPLE): leaders ask rank 0's coordinator thread for the
        # next member; otherwise a static round-robin split (no MPI from the thread).
        leader = sub.Get_rank() == 0
        static = None if threaded else [i for k, i in enumerate(todo) if k % ngroups == group]
        finished = None
        while True:
            idx = None
            halt = stop_requested(stop, sub)  # a signal on any rank of the group: no new member
            if leader:
                if static is not None:
                    idx = static.pop(0) if static and not halt else -1
                elif rank == 0:
                    idx = coord.next_member(0, finished, halt)
                else:
                    world.send({"group": group, "finished": finished, "stop": halt}, dest=0, tag=_TAG_REQ)
                    idx = world.recv(source=0, tag=_TAG_ASSIGN)
            idx = sub.bcast(idx, root=0)
            if rank == 0 and static is not None:
                coord.record(finished)
            finished = None
            if idx < 0:
                break
            m = self.members[idx]
            if rank == 0:
                coord.started(m, group)
            st = self.run_member(m, sub, retry_failed, group, stop)
            finished = {"index": idx, "state": st.get("state"), "step": st.get("step"),
                        "error": st.get("error"), "group": group} if leader else None
        if rank == 0:
            coord.finish_local()
            coord.join()
        world.Barrier()
        signum = stop_requested(stop, world)
        result = {}
        if rank == 0:
            states = {m.name: (read_status(m) or {}).get("state", "pending") for m in self.members}
            if all(s in ("completed", "failed") for s in states.values()):
                signum = 0  # the signal came after the last member: nothing to resume
            result = {"members": states, "report": None,
                      "interrupted": signal.Signals(signum).name if signum else None}
            if signum and progress:
                print(f"[ionsitu campaign] stopped by {result['interrupted']}: running members wrote "
                      "restart.stop; run the same command again to resume", file=stream, flush=True)
            if write_report and not signum:
                try:
                    from .. import report as _report

                    data = _report.build(self)
                    result["report"] = _report.write(self, data)
                    if progress:
                        print(_report.summary_text(data), file=stream)
                        print(f"[ionsitu campaign] report: {result['report']['html']}", file=stream, flush=True)
                except Exception as exc:  # noqa: BLE001 - the runs are done; say what failed
                    traceback.print_exc()
                    print(f"[ionsitu campaign] report failed: {exc}", file=stream, flush=True)
                    result["report_error"] = str(exc)
        world.Barrier()
        sub.Free()
        return result
    def report(self, write: bool = True, out_dir=None) -> dict:
        """The campaign report from the finished members (dict; written as JSON + HTML)."""
        from .. import report as _report

        data = _report.build(self)
        if write:
            _report.write(self, data, out_dir)
        return data


