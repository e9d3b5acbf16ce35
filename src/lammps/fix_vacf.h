/* -*- c++ -*- ionsitu: fix vacf, a thin LAMMPS wrapper of ionsitu::VacfCorrelator.

   fix ID group-ID vacf Nevery keyword value ...
     block m          lags 0 .. m-1 samples, every origin (default 100)
     types t1 t2 ...  atom types of the group reported separately
     file path        write the VACF table there (atomically) every M steps and at the end of runs
     atoms path       write the per-atom VACFs there (atomically), at the same times
     every M          output interval in steps (multiple of Nevery; default 0 = end of run)
*/

#ifndef IONSITU_FIX_VACF_H
#define IONSITU_FIX_VACF_H

#include "fix_sampled.h"
#include "vacf_correlator.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class FixVACF : public FixSampled {
 public:
  FixVACF(class LAMMPS *, int, char **);
  double compute_array(int, int) override;
  void write_restart(FILE *) override;
  void restart(char *) override;
  double memory_usage() override;
  std::vector<std::string> output_paths() const override;

 protected:
  void sample() override;
  void write_output() override;
  bool has_output() const override { return !filename.empty() || !atoms_filename.empty(); }
  Arguments restart_arguments() const override;

 private:
  std::unique_ptr<ionsitu::VacfCorrelator> corr;    // per-atom rings and sums are `peratom`

  std::vector<int> species_of_type;    // per type (1-based), -1 when not a species
  std::vector<int> species_types;      // atom type of each species
  std::vector<bigint> species_counts;
  std::string filename, atoms_filename;

  bigint natoms_group;   // -1 until the first sample
  bigint step_first, step_last;
  double dt_first;

  std::vector<double> table;           // cached results
  bigint table_nsamples;

  void reduce_table();
  std::string meta_json() const;
  std::string atoms_text();            // collective; the text on rank 0
};

}    // namespace LAMMPS_NS

#endif
