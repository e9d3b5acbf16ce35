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

#include "fix.h"
#include "msd_correlator.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class FixMSDCross : public Fix {
 public:
  FixMSDCross(class LAMMPS *, int, char **);
  ~FixMSDCross() override;
  int setmask() override;
  void init() override;
  void setup(int) override;
  void end_of_step() override;
  void post_run() override;
  double compute_array(int, int) override;

  void write_restart(FILE *) override;
  void restart(char *) override;
  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;
  int pack_restart(int, double *) override;
  void unpack_restart(int, int) override;
  int size_restart(int) override;
  int maxsize_restart() override;
  double memory_usage() override;

 private:
  std::unique_ptr<ionsitu::MsdCorrelator> corr;
  double **history;      // per-atom ring buffers, corr->peratom_doubles() each
  int nper;              // doubles per atom

  int drift_group;       // -1: none
  std::string drift_name;
  std::vector<int> species_of_type;    // per type (1-based), -1 when not a species
  std::vector<int> species_types;      // atom type of each species
  std::vector<double> species_charges;
  std::vector<bigint> species_counts;
  std::string filename;
  bigint output_every;

  bigint natoms_group;   // -1 until the first sample
  bigint step_first, step_last;
  double dt_first;

  std::vector<double> table;           // cached results
  bigint table_nsamples;

  void sample();
  void reduce_table();
  void write_file();
  std::string meta_json() const;
};

}    // namespace LAMMPS_NS

#endif
