/* -*- c++ -*- ionsitu: fix vanhove, the self part of the van Hove function G_s(r, t) in situ,
   a thin LAMMPS wrapper of ionsitu::MsdCorrelator's displacement histogram (van_hove.h).

   fix ID group-ID vanhove Nevery rmax R bins n keyword value ...
     rmax R        histogram range [0, R) of |r_i(t0 + t) - r_i(t0)| (distance units)
     bins n        number of bins of width R / n
     block m       ring length of the multiple-window scheme (default 10, as fix msd/cross)
     levels L      number of levels (default 7, as fix msd/cross)
     lags l1 l2 .. also the distinct part G_d(r, t) at these lags (steps, multiples of Nevery, ascending)
     origins M     steps between the reference snapshots of G_d (multiple of Nevery; default Nevery)
     file path     write the G_s table there (atomically) every M steps and at the end of runs
     dfile path    write the G_d table there (needs lags)
     every M       output interval in steps (multiple of Nevery; default 0 = end of run)
*/

#ifndef IONSITU_FIX_VANHOVE_H
#define IONSITU_FIX_VANHOVE_H

#include "fix_sampled.h"
#include "msd_correlator.h"
#include "van_hove.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class FixVanHove : public FixSampled {
 public:
  FixVanHove(class LAMMPS *, int, char **);
  double compute_array(int, int) override;
  void write_restart(FILE *) override;
  void restart(char *) override;
  double memory_usage() override;
  std::vector<std::string> output_paths() const override;

 protected:
  void sample() override;
  void write_output() override;
  bool has_output() const override { return !filename.empty() || !dfilename.empty(); }
  Arguments restart_arguments() const override;

 private:
  std::unique_ptr<ionsitu::MsdCorrelator> corr;    // per-atom rings are `peratom`
  double rmax;
  int bins;
  std::string filename, dfilename;
  std::vector<bigint> dlags;                       // G_d lags (steps); empty: no G_d
  bigint origin_steps = 0;
  std::unique_ptr<ionsitu::VanHoveDistinct> dist;  // made at the first sample (or restart)
  std::vector<double> dtable;
  std::vector<tagint> gather_tag;
  std::vector<double> gather_x, ordered_x;
  std::vector<int> gather_counts, gather_displs;

  bigint natoms_group;   // -1 until the first sample
  bigint step_first, step_last;
  double dt_first;
  std::vector<bigint> no_species;      // the group record's (empty) species counts

  std::vector<double> sample_x, sample_total;
  std::vector<double *> sample_history;
  std::vector<int> sample_species;

  std::vector<double> table;           // cached results
  bigint table_nsamples;

  void totals(std::vector<double> &self_total, std::vector<double> &hist_total);    // collective
  void reduce_table();
  std::string meta_json(const char *format) const;
  void make_distinct(bigint natoms);
  void sample_distinct(int n);                     // collective: gathers the group by atom ID
  std::vector<double> distinct_total();            // collective
};

}    // namespace LAMMPS_NS

#endif
