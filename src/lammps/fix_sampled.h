/* -*- c++ -*- ionsitu: the part every ionsitu fix shares.

   FixSampled samples every Nevery steps (also at the setup of a run, once per step),
   writes its output every `output_every` steps and at the end of each run, and optionally
   keeps `nper` doubles of per-atom state that migrate with the atoms and go into per-atom
   restart data (new rows are zero-filled).  Derived fixes implement sample(),
   write_output() and has_output().
*/

#ifndef IONSITU_FIX_SAMPLED_H
#define IONSITU_FIX_SAMPLED_H

#include "fix.h"
#include "fix_common.h"

#include <string>

namespace LAMMPS_NS {

class FixSampled : public Fix {
 public:
  FixSampled(class LAMMPS *, int, char **, const char *style);
  ~FixSampled() override;
  int setmask() override;
  void setup(int) override;
  void end_of_step() override;
  void post_run() override;

  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  void set_arrays(int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;
  int pack_restart(int, double *) override;
  void unpack_restart(int, int) override;
  int size_restart(int) override;
  int maxsize_restart() override;

 protected:
  const char *style;          // "fix msd/cross" etc., for messages
  bigint output_every;        // 0: only at the end of runs
  double **peratom;           // per-atom state, nper doubles per atom
  int nper;

  void use_peratom_state(int n);    // call once from the constructor

  // Keywords every fix shares: "file path" and "every M".  Returns false (iarg unchanged)
  // for any other keyword; check_output() validates them after parsing.
  bool parse_output_keyword(const ionsitu::ArgReader &args, char **arg, int &iarg, std::string &path);
  void check_output(const std::string &path);
  double peratom_bytes() const;

  virtual void sample() = 0;        // may be called twice at one step: check
  virtual void write_output() = 0;
  virtual bool has_output() const = 0;

 private:
  int nmax_peratom;
};

}    // namespace LAMMPS_NS

#endif
