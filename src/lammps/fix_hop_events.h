/* -*- c++ -*- ionsitu: fix hop/events, a thin LAMMPS wrapper of ionsitu::HopDetector.

   fix ID group-ID hop/events Nevery keyword value ...
     sites file r_in r_out     site-based detection with the sites of an ionsitu site file
     free threshold window     site-free detection (centre of vibration moves > threshold)
     residence n               minimum residence on the destination, samples (default 1)
     file path                 event log (final events appended at every output, see the .cpp)
     every M                   also write every M steps (multiple of Nevery; needs file)

   Global vector f_ID[i]: 1 hops, 2 distinct ions that hopped, 3 samples, 4 ions in the group.
   See docs/fix_hop_events.md.
*/

#ifndef IONSITU_FIX_HOP_EVENTS_H
#define IONSITU_FIX_HOP_EVENTS_H

#include "fix_sampled.h"
#include "hop_detector.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class FixHopEvents : public FixSampled {
 public:
  FixHopEvents(class LAMMPS *, int, char **);
  double compute_vector(int) override;
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
  // per-atom detector slots are `peratom`; a zero-filled slot means "not yet initialised"
  std::unique_ptr<ionsitu::HopDetector> det;

  std::string site_path;
  std::string sites_digest;    // of the site coordinates, for the restart check
  std::string filename;

  bigint nsamples, step_first, step_last, natoms_group;
  double last_box[9], last_origin[3];
  std::vector<ionsitu::HopEvent> log;    // rank 0: gathered events not yet committed to the file, sorted
  bigint log_header_bytes;               // size of the file's header (fixed at its creation)
  bigint log_committed_bytes;            // file length holding the final events (0: no file yet)
  bigint log_committed_events;           // events in those bytes

  std::vector<double> counters;          // cached f_ID vector
  bigint counters_nsamples;

  void gather_events();
  double final_horizon();
  std::string log_header(double nhops, double nhopped) const;
  std::string meta_json(double nhops, double nhopped) const;
};

}    // namespace LAMMPS_NS

#endif
