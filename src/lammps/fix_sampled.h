/* -*- c++ -*- ionsitu: the part every ionsitu fix shares.

   FixSampled samples every Nevery steps (also at the setup of a run, once per step),
   writes its output every `output_every` steps and at the end of each run, and optionally
   keeps `nper` doubles of per-atom state that migrate with the atoms and go into per-atom
   restart data (new rows are zero-filled).  Derived fixes implement sample(),
   write_output(), has_output(), output_paths() and restart_arguments().

   Restart records: every global record starts with a text header of the arguments that
   determine the fix's statistics (restart_arguments(), plus Nevery and the identity of
   the group: name, atom count, checksum of the atom IDs).  read_restart_record() refuses a
   record whose header differs from the re-defined fix's, naming the argument and both values.

   Self-timing (fix_modify ID timing yes): the fix times its own sampling, its outputs at
   every M steps and its end-of-run output in thread CPU seconds and wall seconds, and the
   part of its sampling spent in MPI collectives (SyncTimer: the wait for the slower rank),
   per run, and prints them at the end of each run (rank 0: mean over ranks and slowest
   rank).  Off by default: no clock is read.

   Outputs: init() refuses two ionsitu fixes writing one file and probes every output path
   for writing; write_files() turns a write error on rank 0 into an error->all on every rank.
*/

#ifndef IONSITU_FIX_SAMPLED_H
#define IONSITU_FIX_SAMPLED_H

#include "fix.h"
#include "fix_common.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace LAMMPS_NS {

class FixSampled : public Fix {
 public:
  FixSampled(class LAMMPS *, int, char **, const char *style);
  ~FixSampled() override;
  int setmask() override;
  void init() override;
  void setup(int) override;
  void end_of_step() override;
  void post_run() override;
  int modify_param(int, char **) override;

  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  void set_arrays(int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;
  int pack_restart(int, double *) override;
  void unpack_restart(int, int) override;
  int size_restart(int) override;
  int maxsize_restart() override;

  // files this fix writes (empty: none); used to refuse two fixes writing one file
  virtual std::vector<std::string> output_paths() const = 0;

 protected:
  using Arguments = std::vector<std::pair<std::string, std::string>>;

  const char *style;          // "fix msd/cross" etc., for messages
  bigint output_every;        // 0: only at the end of runs
  double **peratom;           // per-atom state, nper doubles per atom
  int nper;
  double dt_sampled;          // timestep of the samples so far (< 0: none yet)
  std::vector<std::string> identity_groups;    // groups besides the fix's own to identify

  void use_peratom_state(int n, const char *what);    // call once from the constructor
  void check_peratom_size(double n, const char *what) const;

  // Keywords every fix shares: "file path" and "every M".  Returns false (iarg unchanged)
  // for any other keyword; check_output() validates them after parsing.
  bool parse_output_keyword(const ionsitu::ArgReader &args, char **arg, int &iarg, std::string &path);
  void check_output(const std::string &path);
  double peratom_bytes() const;

  // Samples at `step` after one at `step_last` (< 0: none): equally spaced by Nevery and
  // with an unchanged timestep, else error->all.
  void check_sample_step(bigint step, bigint step_last);

  // The arguments (besides Nevery and the group) that determine the statistics.
  virtual Arguments restart_arguments() const = 0;
  // Global restart record = argument header + values; call on every rank, rank 0 writes.
  void write_restart_record(FILE *fp, const std::vector<double> &values);
  // Checks the header against this fix (error->all naming the first difference).
  std::vector<double> read_restart_record(const char *raw);
  // The record of a group correlator (msd/cross, vacf): the group's atom count, first and
  // last sampled step, first timestep, atoms per species, then the correlator's values.
  struct GroupFields {
    bigint &natoms, &step_first, &step_last;
    double &dt_first;
    std::vector<bigint> &species_counts;
  };
  void write_group_record(FILE *fp, const GroupFields &g, const std::vector<double> &correlator);
  // Reads the fields back into `g`; returns the correlator's values.
  std::vector<double> read_group_record(const char *raw, const GroupFields &g);

  // Runs `write` (which writes the output files) on rank 0; an exception there becomes an
  // error->all on every rank of the fix's communicator.  Call on every rank.
  void write_files(const std::function<void()> &write);

  // Times one MPI collective inside sample() (wall seconds, when timing is on): declare one
  // in a scope around the call.
  class SyncTimer {
   public:
    explicit SyncTimer(FixSampled *fix);
    ~SyncTimer();
   private:
    FixSampled *fix;
    double cpu0, wall0;
  };

  virtual void sample() = 0;        // may be called twice at one step: check
  virtual void write_output() = 0;
  virtual bool has_output() const = 0;

 private:
  int nmax_peratom;
  Arguments identity;               // of the groups at the last init()

  // self-timing of the current run (seconds on this rank); see fix_modify timing
  struct PhaseTime {
    double cpu = 0.0, wall = 0.0;
    bigint count = 0;
  };
  bool timing;
  PhaseTime time_sample, time_output, time_final;
  double time_sync_cpu, time_sync_wall;    // in collectives inside sample() (SyncTimer)
  template <class F> void timed(PhaseTime &t, F &&work);
  void print_timing();              // collective

  Arguments group_identity();       // collective
  Arguments header_arguments(const Arguments &groups) const;
};

}    // namespace LAMMPS_NS

#endif
