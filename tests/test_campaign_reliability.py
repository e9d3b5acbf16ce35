"""Campaign driver under batch-scheduler life: a failure on one rank ends every rank with
its message, stop signals (SIGTERM/SIGUSR1) write restarts and resume to the same
statistics, the folder lock, the heartbeat, transient failures resumed from their restart.

Real LAMMPS under real ``mpirun -np 2``; every subprocess has a timeout, so a hang fails.
Tiny campaigns (the model ion conductor, 320 atoms, 2 x 1 members of 200 + 4000 steps).

Run:  pytest tests/test_campaign_reliability.py      (about a minute on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ionsitu
from ionsitu.cli import campaign as campaign_cli
from ionsitu.campaign import HOST, LOCK_FILE, CampaignLock, CampaignLocked
from lammps_helpers import MPIRUN
from test_campaign import IONSITU, _edit, assert_same_msd, campaign_toml, mdir, statuses

EQ, PROD, RESTART, CHUNK = 200, 4000, 500, 100
TARGET = EQ + PROD
NAMES = ("T0.6_r0", "T0.8_r0")


def tiny_toml(output="out"):
    text = campaign_toml(output=output, replicas=1, prod=PROD)
    text = _edit(text, "restart_every = 1000", f"restart_every = {RESTART}\nchunk_steps = {CHUNK}")
    return _edit(text, "[equilibration]\nsteps = 1000", f"[equilibration]\nsteps = {EQ}")


def mpirun(cfg, *args, timeout=180, np_=2, **kw):
    cmd = [MPIRUN, "-np", str(np_), IONSITU, "campaign", "run", str(cfg), "--ranks-per-run", "1",
           "--progress-every", "100", "--no-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=Path(cfg).parent, **kw)


def ionsitu_cli(*args, timeout=120):
    return subprocess.run([IONSITU, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def assert_same_results(out, ref):
    """Every statistic of every member equal to the uninterrupted campaign's: MSD counts and
    samples exact, values to 1e-8; hop events and occupancy counts exact."""
    from ionsitu.io.occupancy import read_occupancy
    from ionsitu.io.events import read_events

    for n in NAMES:
        assert_same_msd(ionsitu.read_msd(mdir(out, n) / "msd.dat"), ionsitu.read_msd(mdir(ref, n) / "msd.dat"),
                        rtol=1e-8)
        ev, meta = read_events(mdir(out, n) / "hops.txt")
        ev_ref, meta_ref = read_events(mdir(ref, n) / "hops.txt")
        assert (meta["nsamples"], meta["nhops"]) == (meta_ref["nsamples"], meta_ref["nhops"])
        np.testing.assert_array_equal(ev, ev_ref)
        g, g_ref = (read_occupancy(mdir(o, n) / "occupancy.npz") for o in (out, ref))
        assert g["nframes"] == g_ref["nframes"] == PROD // 10 + 1
        np.testing.assert_array_equal(g["counts"], g_ref["counts"])


@pytest.fixture(scope="module")
def tiny_reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_reference")
    (d / "campaign.toml").write_text(tiny_toml())
    proc = mpirun(d / "campaign.toml", "--no-report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    st = statuses(d / "out")
    assert all(s["state"] == "completed" and s["step"] == TARGET for s in st.values())
    return d


# ---------------------------------------------------------------------------------------
# A failure on rank 0 alone ends every rank with the message
# ---------------------------------------------------------------------------------------
RANK_SCRIPT = """
import sys
from mpi4py import MPI
from ionsitu.campaign import Campaign, CampaignError
rank = MPI.COMM_WORLD.Get_rank()
camp = Campaign.from_toml(sys.argv[1])
try:
    camp.run(MPI.COMM_WORLD, 1, progress=False)
    print(f"rank {rank}: no error")
except CampaignError as exc:
    print(f"rank {rank}: CampaignError: {exc}")
"""


def test_rank0_failure_ends_every_rank_and_check_finds_it(tmp_path):
    (tmp_path / "blocker").write_text("a file where the output folder should be\n")
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(tiny_toml(output="blocker/out"))
    # `campaign check` (and `run`'s own check) find the unwritable output folder
    check = ionsitu_cli("campaign", "check", cfg, "--no-lammps")
    assert check.returncode == 2 and "campaign.output: cannot create the output folder" in check.stderr
    assert "blocker is not a folder" in check.stderr
    run = mpirun(cfg, timeout=120)   # --no-check: the output folder is checked all the same
    assert run.returncode == 2 and run.stderr.count("cannot create the output folder") == 1, run.stderr
    # the driver itself, without the check: rank 0's mkdir fails, rank 1 must not wait in a bcast
    (tmp_path / "ranks.py").write_text(RANK_SCRIPT)
    proc = subprocess.run([MPIRUN, "-np", "2", sys.executable, str(tmp_path / "ranks.py"), str(cfg)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for r in (0, 1):
        # the two ranks' lines reach mpirun's stdout in chunks that may interleave
        lines = [ln[ln.index(f"rank {r}:"):] for ln in proc.stdout.splitlines() if f"rank {r}:" in ln]
        assert lines, proc.stdout + proc.stderr
        line = lines[0]
        assert "CampaignError: campaign output" in line and "Not a directory" in line, line
    # an unwritable member folder: check says so too
    out = tmp_path / "out"
    (out / "T0.6").mkdir(parents=True)
    (out / "T0.6" / "r0").write_text("")
    cfg.write_text(tiny_toml(output="out"))
    check = ionsitu_cli("campaign", "check", cfg, "--no-lammps")
    assert check.returncode == 2 and "T0.6/r0 exists and is not a folder" in check.stderr


# ---------------------------------------------------------------------------------------
# Stop signals, lock, heartbeat
# ---------------------------------------------------------------------------------------
def _progress_step(path):
    try:
        return int(path.read_text().split()[-2])
    except (OSError, IndexError, ValueError):
        return 0


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_stop_signal_writes_restarts_and_resume_equals_uninterrupted(tmp_path, tiny_reference, sig, capsys):
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(tiny_toml())
    out = tmp_path / "out"
    cmd = [MPIRUN, "-np", "2", IONSITU, "campaign", "run", str(cfg), "--ranks-per-run", "1", "--quiet", "--no-report",
           "--no-check"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # a member in production, past its first restart
            st = statuses(out) if out.exists() else {}
            if any(s["state"] == "running" and s["step"] >= EQ + RESTART for s in st.values()):
                break
            assert proc.poll() is None, "the campaign ended before the signal: " + "".join(proc.communicate())
            time.sleep(0.01)
        else:
            pytest.fail("the members did not reach the signal point")
        # while it runs (in this process: a new interpreter would start after the members
        # end): the lock refuses a second run, naming the holder; status says running
        with pytest.raises(CampaignLocked) as locked:
            CampaignLock(out).acquire()
        campaign_cli.run(argparse.Namespace(action="status", config=str(cfg), json=None))
        status = capsys.readouterr().out
        t_signal = time.time()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
        latency = time.time() - t_signal
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "is in use by pid" in str(locked.value) and f"on host {HOST}" in str(locked.value)
    assert "re-run with --force-unlock" in str(locked.value)
    assert "locked by pid" in status
    lines = [ln for ln in status.splitlines() if ln.startswith(NAMES)]
    assert len(lines) == 2 and not any(" dead " in ln for ln in lines), status
    assert any(" running " in ln and "heartbeat 0 s ago" in ln for ln in lines), status
    # the signal: every member wrote restart.stop at a chunk end and is 'interrupted'; exit 4
    assert proc.returncode == 4, stdout + stderr
    assert not (out / LOCK_FILE).exists()   # released at the clean exit
    st = statuses(out)
    stopped_at = {}
    interrupted = [n for n in NAMES if st[n]["state"] == "interrupted"]
    assert interrupted and all(st[n]["state"] == "completed" for n in NAMES if n not in interrupted), st
    for n in interrupted:
        s = st[n]
        assert s["signal"] == signal.Signals(sig).name, s
        assert s["restart"] == "restart.stop" and (mdir(out, n) / "restart.stop").is_file()
        assert 0 < s["step"] < TARGET and s["step"] % CHUNK == 0   # at a chunk end (maybe in equilibration)
        hb = s["heartbeat"]
        assert hb["step"] == s["step"] and hb["interval_s"] > 0 and abs(hb["unix"] - time.time()) < 120
        stopped_at[n] = s["step"]
    assert max(stopped_at.values()) >= EQ + RESTART
    print(f"{signal.Signals(sig).name}: mpirun exited {latency:.1f} s after the signal (chunks of {CHUNK} steps); "
          f"stopped at steps {stopped_at}")
    status = ionsitu_cli("campaign", "status", cfg)
    assert "not locked" in status.stdout
    assert all(f"interrupted step {stopped_at[n]}/{TARGET}  by {signal.Signals(sig).name}; resumes from restart.stop"
               in status.stdout for n in interrupted), status.stdout
    # resume: from restart.stop, the remaining steps only; the same statistics
    again = mpirun(cfg, "--no-report")
    assert again.returncode == 0, again.stdout + again.stderr
    st = statuses(out)
    assert f"1 to run" in again.stdout or f"2 to run" in again.stdout
    for n in NAMES:
        a = st[n]["attempts"]
        assert st[n]["state"] == "completed" and len(a) == (2 if n in interrupted else 1)
    for n in interrupted:
        a = st[n]["attempts"]
        assert a[1]["restart"] == "restart.stop" and a[1]["from_step"] == stopped_at[n]
    assert_same_results(out, tiny_reference / "out")


def test_lock_of_another_host_refused_and_forced(tiny_reference, tmp_path):
    cfg = tiny_reference / "campaign.toml"
    lock = tiny_reference / "out" / LOCK_FILE
    lock.write_text(json.dumps({"host": "node-that-is-not-here", "pid": 12345, "started": "2026-01-01T00:00:00",
                                "command": ["ionsitu", "campaign", "run"]}))
    refused = mpirun(cfg, "--no-report", timeout=120)
    assert refused.returncode == 3
    assert refused.stderr.count("is locked by pid 12345 on host node-that-is-not-here") == 1, refused.stderr
    assert "re-run with --force-unlock" in refused.stderr and lock.exists()
    status = ionsitu_cli("campaign", "status", cfg)
    assert "locked by pid 12345 on host node-that-is-not-here" in status.stdout
    forced = mpirun(cfg, "--no-report", "--force-unlock", timeout=120)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "--force-unlock: took over the lock of pid 12345" in forced.stdout
    assert "0 to run, 2 already completed" in forced.stdout and not lock.exists()


# ---------------------------------------------------------------------------------------
# Transient failure: resumed from the newest restart, steps kept
# ---------------------------------------------------------------------------------------
def test_transient_failure_resumes_from_its_restart(tmp_path, tiny_reference):
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(tiny_toml())
    out = tmp_path / "out"
    # restart.b cannot be written (a folder in its way, like a full disk at step 2 x RESTART):
    # restart.a of step RESTART stays
    blocked = mdir(out, "T0.6_r0") / "restart.b"
    blocked.mkdir(parents=True)
    proc = mpirun(cfg, "--no-report")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    st = statuses(out)
    bad = st["T0.6_r0"]
    assert bad["state"] == "failed" and bad["failure"] == "transient", bad
    assert "restart" in bad["error"] and bad["step"] == 2 * RESTART
    assert st["T0.8_r0"]["state"] == "completed"   # the other group went on
    status = ionsitu_cli("campaign", "status", cfg)
    assert "failed      step 1000/4200  (transient)" in status.stdout, status.stdout
    # a plain re-run skips failed members (test_permanent_failure_starts_over_on_retry);
    # --retry-failed resumes this one from restart.a
    blocked.rmdir()
    retry = mpirun(cfg, "--no-report", "--retry-failed")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    st = statuses(out)
    a = st["T0.6_r0"]["attempts"]
    assert st["T0.6_r0"]["state"] == "completed" and len(a) == 2
    assert a[1]["restart"] == "restart.a" and a[1]["from_step"] == RESTART   # steps kept, not started over
    assert len(st["T0.8_r0"]["attempts"]) == 1
    assert_same_results(out, tiny_reference / "out")


def test_permanent_failure_starts_over_on_retry(tmp_path):
    """Lost atoms is permanent: --retry-failed starts the member over (its restarts are no use)."""
    from ionsitu.campaign import Campaign, classify_failure

    assert classify_failure("Lost atoms: original 320 current 319") == "permanent"
    assert classify_failure("Cannot open restart file x: No space left on device") == "transient"
    assert classify_failure("fix msd/cross: cannot write msd.dat: Input/output error") == "transient"
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(tiny_toml())
    camp = Campaign.from_toml(cfg)
    m = camp.members[0]
    m.dir.mkdir(parents=True)
    (m.dir / "restart.a").write_bytes(b"x")
    for failure, action in (("permanent", "fresh"), ("transient", "resume")):
        m.status_path.write_text(json.dumps({"state": "failed", "failure": failure, "step": 700}))
        assert camp.plan(m)["action"] == "skip"
        assert camp.plan(m, retry_failed=True)["action"] == action
    m.status_path.write_text(json.dumps({"state": "interrupted", "step": 700}))
    assert camp.plan(m)["action"] == "resume"


def test_stop_signals_are_configurable_and_only_recorded(tmp_path):
    import os

    from ionsitu.campaign import ConfigError, StopRequest, load_config, signal_number, stop_requested

    assert signal_number("TERM") == signal_number("SIGTERM") == signal.SIGTERM
    assert signal_number("usr2") == signal.SIGUSR2
    for bad, why in (("KILL", "cannot be caught"), ("FOO", "unknown signal 'FOO'")):
        with pytest.raises(ValueError, match=why):
            signal_number(bad)
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(_edit(tiny_toml(), "progress_every = 1", 'progress_every = 1\nstop_signals = ["USR2", "KILL"]'))
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert ("campaign.stop_signals[1]", "signal 'KILL' cannot be caught") in exc.value.errors
    # the handler records the first signal and nothing else; restore() puts the old handlers back
    stop = StopRequest()
    old = signal.getsignal(signal.SIGUSR2)
    stop.install(["USR2"])
    try:
        assert stop_requested(stop, None) == 0
        os.kill(os.getpid(), signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGUSR2)
        assert stop_requested(stop, None) == signal.SIGUSR2 and stop.name == "SIGUSR2"
    finally:
        stop.restore()
    assert signal.getsignal(signal.SIGUSR2) is old


def test_liveness_from_the_heartbeat():
    import os

    from ionsitu.campaign import liveness

    now = time.time()
    hb = {"step": 500, "unix": now - 30, "interval_s": 10.0}
    assert liveness({"state": "running", "host": HOST, "pid": os.getpid(), "heartbeat": hb}, now)[0] == "running"
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                              timeout=60).stdout.strip()
    state, why = liveness({"state": "running", "host": HOST, "pid": int(dead_pid), "heartbeat": hb}, now)
    assert state == "dead" and f"process {dead_pid} on {HOST} is not running" in why
    # another host: by the heartbeat's age against 3 chunk intervals + 60 s
    other = {"state": "running", "host": "elsewhere", "pid": 1}
    assert liveness({**other, "heartbeat": {**hb, "unix": now - 89}}, now)[0] == "running"
    state, why = liveness({**other, "heartbeat": {**hb, "unix": now - 91}}, now)
    assert state == "dead" and "no heartbeat for 91 s (expected every 10 s)" in why
