"""LAMMPS input of a campaign member: system, potential, thermostats, the analyses' fixes;
and the trial build that checks them in a serial LAMMPS."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from ..io.atomic import write_atomic

from .members import Member
from .scheduler import _lammps_message, _lines
from .schema import FIX_EQ, FIX_MD, FIX_PROGRESS, GROUP_MOBILE, ConfigError, _q



class InputsMixin:
    """The LAMMPS input of :class:`ionsitu.campaign.Campaign` (methods of the campaign)."""

    # ------------------------------------------------------------------ LAMMPS input
    def _system_commands(self) -> list[tuple[str, str]]:
        """(config key, command) that create the system (fresh start)."""
        s = self.conf["system"]
        cmds = [("campaign.units", f"units {self.units}"), ("system.atom_style", f"atom_style {s['atom_style']}"),
                ("system.boundary", f"boundary {s['boundary']}")]
        if s.get("data") is not None:
            cmds.append(("system.data", f"read_data {_q(s['data'])}"))
        elif s.get("structure") is not None:
            try:
                data = self.structure_data()
            except Exception as exc:  # noqa: BLE001 - ASE writer errors
                raise ConfigError([("system.structure", f"cannot write it as a LAMMPS data file: {exc!r}")],
                                  str(self.path)) from exc
            cmds.append(("system.structure", f"read_data {_q(data)}"))
        else:
            text = Path(s["lammps"]).read_text() if s.get("lammps") is not None else s["commands"]
            key = "system.lammps" if s.get("lammps") is not None else "system.commands"
            cmds += [(key, line) for line in _lines(text)]
        for t, m in sorted((s.get("masses") or {}).items()):
            cmds.append((f"system.masses.{t}", f"mass {t} {m!r}"))
        return cmds

    def structure_data(self) -> Path:
        """The ASE structure written as a LAMMPS data file (once, in the output folder)."""
        s = self.conf["system"]
        out = self.output / "system.data"
        if out.exists() and out.stat().st_mtime >= Path(s["structure"]).stat().st_mtime:
            return out
        from ase.io import read as ase_read
        from ase.io.lammpsdata import write_lammps_data

        atoms = ase_read(str(s["structure"]), format=s.get("format"))
        self.output.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        # positions are written as given (A for metal and real); ASE knows no other
        # styles, whose masses must then come from system.masses (checked)
        write_lammps_data(buf, atoms, specorder=list(s["type_map"]), masses=True,
                          units=self.units if self.units in ("metal", "real") else "metal",
                          atom_style=s["atom_style"])
        return write_atomic(out, buf.getvalue())

    def _potential_commands(self, member_dir: Path | None, attempt: int) -> list[tuple[str, str]]:
        p = self.conf["potential"]
        if p.get("pair") is not None:
            return [("potential.pair", line) for line in _lines(p["pair"])]
        models = " ".join(_q(m) for m in p["deepmd"])
        line = f"pair_style deepmd {models}"
        if len(p["deepmd"]) >= 2 and member_dir is not None:
            name = "model_devi.out" if attempt <= 1 else f"model_devi.{attempt}.out"
            line += f" out_freq {p['model_devi_every']} out_file {_q(member_dir / name)}"
        tm = self.conf["system"].get("type_map")
        return [("potential.deepmd", line), ("potential.deepmd", "pair_coeff * *" + (" " + " ".join(tm) if tm else ""))]

    def _extra_commands(self):
        return [("lammps.commands", line) for line in _lines(self.conf["lammps"].get("commands") or "")]

    def _thermostat(self, fix_id, T, section) -> str:
        c = self.conf[section]
        if section == "equilibration" and c["ensemble"] == "npt":
            P = c["pressure"]
            return (f"fix {fix_id} all npt temp {T!r} {T!r} {c['tdamp']!r} {c['barostat']} {P!r} {P!r} "
                    f"{c['pdamp']!r}")
        return f"fix {fix_id} all nvt temp {T!r} {T!r} {c['tdamp']!r}"

    def _common_commands(self, m: Member) -> list[tuple[str, str]]:
        cam = self.conf["campaign"]
        types = " ".join(str(t) for t in self.conf["mobile"]["types"])
        cmds = [("campaign.timestep", f"timestep {cam['timestep']!r}"),
                ("mobile.types", f"group {GROUP_MOBILE} type {types}"),
                ("campaign.thermo_every", f"thermo {cam['thermo_every']}"),
                ("campaign.thermo_every", "thermo_style custom step temp pe press vol"),
                ("campaign.thermo_every", "thermo_modify flush yes"),
                ("campaign.thermo_every", f'fix {FIX_PROGRESS} all print {cam["thermo_every"]} '
                 f'"$(step) $(temp:%.6g)" append {_q(m.dir / "progress.txt")} screen no')]
        if cam["restart_every"]:
            cmds.append(("campaign.restart_every",
                         f"restart {cam['restart_every']} {_q(m.dir / 'restart.a')} {_q(m.dir / 'restart.b')}"))
        return cmds

    def _equilibration_analysis_commands(self, member_dir: Path) -> list[tuple[str, str]]:
        """Fixes of the analyses that run during equilibration (key analysis.<name>.equilibration:
        they are not the analysis' production fix, so its prepare() does not run before them)."""
        return [(f"analysis.{name}.equilibration", line) for name, (a, cfg) in self.analyses.items()
                for line in a.equilibration_commands(cfg, self.conf, member_dir)]

    def _production_commands(self, m: Member, start_step: int = 0) -> list[tuple[str, str]]:
        """Thermostat and the analyses' fixes; with segments, the fix of the segment the run
        starts in comes right after its analysis' fix: before any analysis' prepare() runs
        (LAMMPS keeps a fix's restart state only for fixes defined before the first run)."""
        cmds = [("production", self._thermostat(FIX_MD, m.T, "production"))]
        for name, (a, cfg) in self.analyses.items():
            cmds += [(f"analysis.{name}", line) for line in a.commands(cfg, self.conf, m.dir)]
            if name == "msd_cross":
                segs = self._pending_segments(m, start_step)
                if segs:
                    cmds += [("analysis.msd_cross.segments", line) for line in segs[0][2]]
        return cmds

    def segment_files(self, m: Member) -> list[Path]:
        """The MSD files of the member's production segments ([analysis.msd_cross] segments)."""
        if "msd_cross" not in self.analyses:
            return []
        a, cfg = self.analyses["msd_cross"]
        return [a.segment_file(m.dir, k) for k in range(1, (cfg.get("segments") or 0) + 1)]

    def _pending_segments(self, m: Member, start_step: int) -> list[tuple[int, int, list[str]]]:
        """(k, last step, fix lines) of the production segments not finished at start_step (at
        its last step a segment is pending: a zero-step run writes its file)."""
        a, cfg = self.analyses.get("msd_cross", (None, None))
        ends = a.segment_ends(cfg, self.eq_steps, self.target_step) if a is not None else []
        return [(k, end, a.segment_commands(cfg, self.conf, m.dir, k))
                for k, end in enumerate(ends, 1) if end >= start_step]

    def _segment_runs(self, m: Member, start_step: int) -> list[tuple[str, str]]:
        """run ... upto the end of production: one run, or one per segment, each with its fix
        (the first pending one's is defined with the production fixes)."""
        segs = self._pending_segments(m, start_step)
        if not segs:
            return [("production", f"run {self.target_step} upto")]
        cmds, key = [], "analysis.msd_cross.segments"
        for i, (k, end, fixes) in enumerate(segs):
            if i:
                cmds += [(key, line) for line in fixes]
            cmds += [("production", f"run {end} upto")] + [(key, f"unfix {line.split()[1]}") for line in fixes]
        return cmds

    def input_script(self, m: Member, start_step: int = 0, restart_file: Path | None = None,
                     attempt: int = 1) -> list[tuple[str, str]]:
        """The member's LAMMPS commands (config key, command): fresh or from a restart."""
        cmds = [("campaign.output", f"log {_q(m.dir / 'log.lammps')} append")]
        if restart_file is None:
            cmds += self._system_commands()
        else:
            cmds += [("restart", f"read_restart {_q(restart_file)}")]
        cmds += self._potential_commands(m.dir, attempt) + self._extra_commands() + self._common_commands(m)
        if restart_file is None:
            cmds.append(("campaign.seeds", f"velocity all create {m.T!r} {m.seed} mom yes rot yes dist gaussian"))
        if start_step < self.eq_steps:
            eq_fixes = self._equilibration_analysis_commands(m.dir)
            cmds += [("equilibration", self._thermostat(FIX_EQ, m.T, "equilibration")), *eq_fixes,
                     ("equilibration", f"run {self.eq_steps} upto"),
                     ("equilibration", f"unfix {FIX_EQ}"),
                     *[(key, f"unfix {cmd.split()[1]}") for key, cmd in eq_fixes]]
        cmds += self._production_commands(m, start_step)
        cmds += self._segment_runs(m, start_step)
        cmds.append(("production", f"write_restart {_q(m.dir / 'restart.end')}"))
        return cmds

    # ------------------------------------------------------------------ validation in LAMMPS
    def check_lammps(self) -> list[tuple[str, str]]:
        """Build the system and potential once in a serial LAMMPS and run 0 steps.

        Returns (key, reason) errors: failing commands (with the key they come from),
        mobile types absent from the structure, missing masses.
        """
        errors = []
        lmp = None
        try:
            lmp = self._new_lammps(None, log=None)
        except Exception as exc:  # noqa: BLE001
            return errors + [("potential" if self.conf["potential"].get("deepmd") else "(lammps)", str(exc))]
        key = "(lammps)"
        try:
            try:
                setup = self._system_commands() + self._potential_commands(None, 1) + self._extra_commands()
            except ConfigError as exc:
                return errors + exc.errors
            for key, cmd in setup:
                lmp.command(cmd)
            key = "system"
            ntypes = int(lmp.extract_global("ntypes"))
            natoms = int(lmp.get_natoms())
            counts = {}
            if natoms:
                import numpy as np

                t = np.asarray(lmp.numpy.extract_atom("type"))[: lmp.extract_global("nlocal")]
                counts = {int(k): int(v) for k, v in zip(*np.unique(t, return_counts=True))}
            bad = False
            for i, t in enumerate(self.conf["mobile"]["types"]):
                if t > ntypes:
                    errors.append((f"mobile.types[{i}]", f"type {t} is not in the structure ({ntypes} atom types)"))
                    bad = True
                elif counts.get(t, 0) == 0:
                    errors.append((f"mobile.types[{i}]", f"the structure has no atom of type {t}"))
                    bad = True
            tm = self.conf["system"].get("type_map")
            if tm and len(tm) != ntypes:
                errors.append(("system.type_map", f"{len(tm)} elements for {ntypes} atom types"))
            if not bad:
                key = "mobile.types"
                lmp.command(f"group {GROUP_MOBILE} type " + " ".join(map(str, self.conf["mobile"]["types"])))
                with tempfile.TemporaryDirectory() as tmp:
                    for key, cmd in self._equilibration_analysis_commands(Path(tmp)):
                        lmp.command(cmd)
                    for name, (a, cfg) in self.analyses.items():
                        key = f"analysis.{name}"
                        a.prepare(cfg, self.conf, Path(tmp), lmp, None, trial=True)
                        for cmd in a.commands(cfg, self.conf, Path(tmp)):
                            lmp.command(cmd)
                    key = "potential"
                    lmp.command("run 0 post no")
        except Exception as exc:  # noqa: BLE001 - the LAMMPS error text
            msg = _lammps_message(exc)
            if "mass" in msg.lower() and (key in ("potential", "system") or key.startswith("analysis.")):
                # (an analysis' prepare may run 0 steps, e.g. analysis.doas' per-atom energy check)
                key = "system.masses"
            errors.append((key, msg))
        finally:
            lmp.close()
        return errors
