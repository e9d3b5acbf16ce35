"""``ionsitu campaign``: run, resume, check and report temperature x replica campaigns.

    mpirun -np P ionsitu campaign run campaign.toml [--ranks-per-run R]
    ionsitu campaign report campaign.toml
    ionsitu campaign check campaign.toml      # validate only (also in LAMMPS and the output folder)
    ionsitu campaign status campaign.toml     # state of every member: running, dead, interrupted, ...
    ionsitu campaign keys                     # the documented keys of campaign.toml

Exit status of ``run``: 0 when every member completed, 1 when some failed (or are still
unfinished), 2 for an invalid campaign file, 3 when the campaign could not run (output
folder not writable, folder locked by another run, an error on one rank: the message is
printed and every rank ends), 4 when a stop signal interrupted it (run the same command
again to resume).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 3, 4


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run", help="run (or resume) every member; under mpirun: in groups of ranks")
    r.add_argument("config", help="campaign TOML file")
    r.add_argument("--ranks-per-run", type=int, default=None, help="MPI ranks per LAMMPS instance")
    r.add_argument("--retry-failed", action="store_true",
                   help="run failed members again: after a transient failure (I/O, disk full) from the newest "
                        "readable restart, after a permanent one (lost atoms, bad input) from scratch")
    r.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    r.add_argument("--progress-every", type=float, default=None, help="seconds between progress lines")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--no-check", action="store_true",
                   help="skip the trial build of the system and potential in LAMMPS before the runs")
    r.add_argument("--stop-signals", default=None, metavar="SIG[,SIG]",
                   help="signals that stop the campaign cleanly (default: campaign.stop_signals, TERM,USR1)")
    r.add_argument("--force-unlock", action="store_true",
                   help="take over the campaign folder's lock (only when the run holding it is dead)")
    p = sub.add_parser("report", help="write report.json and report.html from the finished members")
    p.add_argument("config")
    p.add_argument("--out", default=None, help="folder of the report (default: the campaign output)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="also write the report JSON to FILE, or print it to stdout without FILE (then the only "
                   "output there)")
    p.add_argument("--print", dest="json", action="store_const", const="-",
                   help="the old spelling of --json without FILE")
    c = sub.add_parser("check", help="validate the campaign file (all errors, with their keys)")
    c.add_argument("config")
    c.add_argument("--no-lammps", action="store_true", help="only the static checks")
    s = sub.add_parser("status", help="state of every member")
    s.add_argument("config")
    s.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the states as JSON to FILE, or to stdout without FILE (then the only output there)")
    sub.add_parser("keys", help="print the documented keys of campaign.toml")


def _load(path, check_lammps, comm=None, check_output=False):
    """Campaign or None (errors printed on rank 0); the checks run on rank 0 only and
    every rank learns their verdict (an exception there is a verdict too)."""
    from ..campaign import Campaign, ConfigError, on_all, on_root

    rank = 0 if comm is None else comm.Get_rank()
    try:
        camp = on_all(comm, "campaign file", _from_toml, path, Campaign, ConfigError)
        if isinstance(camp, ConfigError):
            raise camp
        checks = ([camp.check_output] if check_output else []) + [camp.changed_settings] \
            + ([camp.check_lammps] if check_lammps else [])
        for check in checks:
            errors = on_root(comm, "checking the campaign", check)
            if errors:
                raise ConfigError(errors, str(path))
    except Exception as exc:  # noqa: BLE001 - ConfigError or CampaignError, raised on every rank
        if rank == 0:
            print(f"ionsitu campaign: {exc}", file=sys.stderr)
        return None
    return camp


def _from_toml(path, Campaign, ConfigError):
    try:
        return Campaign.from_toml(path)
    except ConfigError as exc:  # the same on every rank: returned, not a rank-local failure
        return exc


def _status(args) -> int:
    from ..campaign import CampaignLock, _holder_text, liveness, read_status

    camp = _load(args.config, False)
    if camp is None:
        return EXIT_CONFIG
    holder = CampaignLock(camp.output).holder()
    doc = {"output": str(camp.output), "lock": holder, "members": []}
    lines = [f"{camp.output}: " + (f"locked by {_holder_text(holder)}" if holder else "not locked")]
    for m in camp.members:
        try:
            st = read_status(m)
        except OSError as exc:
            st, state, detail = {}, "unreadable", str(exc)
        else:
            state, detail = liveness(st)
        st = st or {}
        doc["members"].append({"member": m.name, "temperature": m.T, "replica": m.replica, "state": state,
                               "detail": detail, "step": st.get("step", 0), "target_step": camp.target_step})
        lines.append(f"{m.name:<16} {state:<11} step {st.get('step', 0)}/{camp.target_step}"
                     + (f"  {detail}" if detail else ""))
    if args.json == "-":
        print(json.dumps(doc, indent=1, default=str))
        return EXIT_OK
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print("\n".join(lines))
    return EXIT_OK


def run(args) -> int:
    if args.action == "keys":
        from ..campaign import schema_text

        print(schema_text(), end="")
        return EXIT_OK
    if args.action == "check":
        camp = _load(args.config, not args.no_lammps, check_output=True)
        if camp is None:
            return EXIT_CONFIG
        print(f"{args.config}: OK ({len(camp.members)} members, output {camp.output})")
        return EXIT_OK
    if args.action == "status":
        return _status(args)
    if args.action == "report":
        camp = _load(args.config, False)
        if camp is None:
            return EXIT_CONFIG
        from .. import report

        data = report.build(camp)
        paths = report.write(camp, data, args.out)
        if args.json == "-":
            print(json.dumps(data, indent=1, default=str))
            return EXIT_OK
        if args.json:
            Path(args.json).write_text(json.dumps(data, indent=1, default=str) + "\n")
        print(report.summary_text(data))
        print(f"report: {paths['json']}\n        {paths['html']}" + (f"\nJSON:   {args.json}" if args.json else ""))
        return EXIT_OK
    return _run(args)


def _run(args) -> int:
    from mpi4py import MPI

    from ..campaign import CampaignError, StopRequest, on_all

    world = MPI.COMM_WORLD
    rank = world.Get_rank()
    stop = StopRequest()
    try:
        # the stop signals first: a signal during the checks still ends the job cleanly
        names = args.stop_signals.split(",") if args.stop_signals else ["TERM", "USR1"]
        on_all(world, "--stop-signals", stop.install, names)
        camp = _load(args.config, not args.no_check, world, check_output=True)
        if camp is None:
            return EXIT_CONFIG
        if not args.stop_signals:
            stop.restore()
            on_all(world, "campaign.stop_signals", stop.install, camp.conf["campaign"]["stop_signals"])
        rpr = args.ranks_per_run or camp.conf["campaign"]["ranks_per_run"]
        result = camp.run(world, rpr, retry_failed=args.retry_failed, progress=not args.quiet,
                          progress_every=args.progress_every, write_report=not args.no_report,
                          force_unlock=args.force_unlock, stop=stop)
        code = EXIT_OK
        if rank == 0:
            states = result["members"]
            code = (EXIT_INTERRUPTED if result.get("interrupted") else
                    EXIT_OK if all(s == "completed" for s in states.values()) else EXIT_FAILED)
        return world.bcast(code, root=0)
    except CampaignError as exc:  # raised on every rank together
        if rank == 0:
            print(f"ionsitu campaign: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except Exception:  # a failure on some ranks only: the others may wait in a collective
        import traceback

        sys.stderr.write(f"ionsitu campaign: unexpected error on rank {rank} of {world.Get_size()}; "
                         "ending every rank\n" + traceback.format_exc())
        sys.stderr.flush()
        if world.Get_size() > 1:
            world.Abort(EXIT_ERROR)
        return EXIT_ERROR
    finally:
        stop.restore()
