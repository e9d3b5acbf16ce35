/* -*- c++ -*- ionsitu: fix msd/cross, a thin LAMMPS wrapper of ionsitu::MsdCorrelator.

   fix ID group-ID msd/cross Nevery keyword value ...
     block m          ring length per level (default 10)
     levels L         number of levels (default 7: reach (m-1) m^(L-1) samples)
     drift all|group-ID|none   centre of mass removed from every position (default all)
     charges t1 q1 t2 q2 ...   species (atom types of the group) and their charges
     file path        write results there (atomically) every M steps and at the end of runs
     every M          output interval in steps (multiple of Nevery; default 0 = end of run)
*/

#ifndef IONSITU_FIX_MSD_CROSS_H
#define IONSITU_FIX_MSD_CROSS_H

#include "fix_sampled.h"
#include "msd_correlator.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class FixMSDCross : public FixSampled {
 public:
  FixMSDCross(class LAMMPS *, int, char **);
  void init() override;
  double compute_array(int, int) override;
  void write_restart(FILE *) override;
  void restart(char *) override;
  double memory_usage() override;
  std::vector<std::string> output_paths() const override;

 protected:
  void sample() override;
  void write_output() override;
  bool has_output() const override { return !filename.empty(); }
  Arguments restart_arguments() const override;

 private:
  std::unique_ptr<ionsitu::MsdCorrelator> corr;    // per-atom ring buffers are `peratom`

  int drift_group;       // -1: none
  std::string drift_name;
  std::vector<int> species_of_type;    // per type (1-based), -1 when not a species
  std::vector<int> species_types;      // atom type of each species
  std::vector<double> species_charges;
  std::vector<bigint> species_counts;
  std::string filename;

  bigint natoms_group;   // -1 until the first sample
  bigint step_first, step_last;
  double dt_first;

  std::vector<double> table;           // cached results
  // per-sample buffers, kept between samples (no allocation per sample)
  std::vector<double> sample_x;        // unwrapped, drift-free positions of the group's local atoms
  std::vector<double *> sample_history;
  std::vector<int> sample_species;
  std::vector<double> sample_total;    // collective vectors summed over ranks
  std::vector<double> sample_drift, sample_drift_total;  // drift sums, counts (local, total)
  bigint table_nsamples;

  void reduce_table();
  std::string meta_json() const;
};

}    // namespace LAMMPS_NS

#endif
