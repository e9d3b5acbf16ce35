/* -*- c++ -*- ionsitu: fix occupancy/grid, a thin LAMMPS wrapper of ionsitu::OccupancyGrid.

   fix ID group-ID occupancy/grid Nevery keyword value ...
     grid nx ny nz        voxels along a, b, c                    (grid or spacing required)
     spacing d            target voxel edge (distance units): n_k = max(1, round(|edge k|/d))
     types t1 t2 ...      one grid per listed atom type (atoms of other types are skipped)
     start N / stop N     count only samples with N <= step (start) / step <= N (stop)
     norm probability|density|counts   what the cube files hold (default probability)
     file prefix          write prefix.cube (all types), prefix.typeT.cube, prefix.npz
     every M              also write every M steps (multiple of Nevery; needs file)

   Global scalar f_ID: samples counted; global vector f_ID[i]: positions counted for the
   i-th type of `types` (or for the whole group).  See docs/fix_occupancy_grid.md.
*/

#ifndef IONSITU_FIX_OCCUPANCY_GRID_H
#define IONSITU_FIX_OCCUPANCY_GRID_H

#include "fix_sampled.h"
#include "occupancy_grid.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class FixOccupancyGrid : public FixSampled {
 public:
  FixOccupancyGrid(class LAMMPS *, int, char **);
  void init() override;
  std::vector<std::string> output_paths() const override;
  double compute_scalar() override;
  double compute_vector(int) override;
  void write_restart(FILE *) override;
  void restart(char *) override;
  double memory_usage() override;

 protected:
  void sample() override;
  void write_output() override;
  bool has_output() const override { return !prefix.empty(); }
  Arguments restart_arguments() const override;

 private:
  std::unique_ptr<ionsitu::OccupancyGrid> grid;    // rank-local counts; frames on rank 0 only
  bool shape_from_spacing;
  std::string grid_arg;                  // "nx ny nz" or "spacing d", for the restart check
  std::vector<int> types;                // atom types of the grids (empty: one grid, all group atoms)
  std::vector<int> index_of_type;        // per atom type: grid index, -1 skipped
  bigint start, stop;                    // stop < 0: no stop
  std::string norm_name;
  ionsitu::OccupancyGrid::Norm norm;
  std::string prefix;

  bigint nsamples, step_first, step_last;
  std::vector<double> local_totals;      // positions counted on this rank, per grid
  std::vector<double> totals;            // reduced, cached for compute_vector
  bigint totals_nsamples;
  std::vector<int> tidx;                 // per local atom: grid index or -1

  std::vector<double> reduced_counts();  // sum over ranks (valid on rank 0)
  std::string meta_json(const ionsitu::OccupancyGrid &g) const;
  double length_to_bohr() const;
};

}    // namespace LAMMPS_NS

#endif
