// ionsitu: fix occupancy/grid.  Argument parsing, sampling schedule, MPI reduction of the
// voxel counts, cube/npz output and restart around ionsitu::OccupancyGrid (all the
// counting and the cube format live there).

#include "fix_occupancy_grid.h"

#include "fix_common.h"
#include "msd_correlator.h"    // ionsitu::write_file_atomic

#include "atom.h"
#include "citeme.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "group.h"
#include "update.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

using namespace LAMMPS_NS;

static const char *const STYLE = "fix occupancy/grid";
// The method's paper, registered with LAMMPS's citation reminder (log;
// BibTeX with -cite FILE).
static const char cite_fix_occupancy_grid[] =
    "fix occupancy/grid command (time-averaged ion probability density): doi:10.1021/acs.chemmater.6b02648\n\n"
    "@Article{Deng17,\n"
    " author = {Z. Deng and Z. Zhu and I.-H. Chu and S. P. Ong},\n"
    " title = {Data-Driven First-Principles Methods for the Study and Design of Alkali Superionic Conductors},\n"
    " journal = {Chem.\\ Mater.},\n"
    " year = 2017,\n"
    " volume = 29,\n"
    " pages = {281--288}\n"
    "}\n\n";
static constexpr int RESTART_VERSION = 1;
static constexpr double BOHR_ANGSTROM = 0.529177210903;
static constexpr long long MAX_GRID_COUNT = 100000;              // voxels along one edge
static constexpr double MAX_GRID_VALUES = 134217728;             // 2^27 doubles = 1 GiB per rank

/* ---------------- .npz writer: NPY 1.0 arrays in an uncompressed (stored) zip ---------------- */

namespace {

uint32_t crc32(const std::string &data)
{
  static uint32_t table[256];
  static bool ready = false;
  if (!ready) {
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[n] = c;
    }
    ready = true;
  }
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put16(std::string &s, uint32_t v)
{
  s += (char) (v & 0xFF);
  s += (char) ((v >> 8) & 0xFF);
}

void put32(std::string &s, uint32_t v)
{
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

// One NPY (version 1.0) file: descr e.g. "<f8", shape () for a scalar.
std::string npy(const std::string &descr, const std::vector<size_t> &shape, const void *data, size_t nbytes)
{
  std::string sh = "(";
  for (size_t k = 0; k < shape.size(); ++k) sh += std::to_string(shape[k]) + (shape.size() == 1 ? "," : (k + 1 < shape.size() ? ", " : ""));
  sh += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + sh + ", }";
  const size_t unpadded = 10 + header.size() + 1;    // magic(6) version(2) len(2) header '\n'
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  put16(out, (uint32_t) header.size());
  out += header;
  out.append((const char *) data, nbytes);
  return out;
}

std::string npy_doubles(const std::vector<size_t> &shape, const std::vector<double> &v)
{
  return npy("<f8", shape, v.data(), v.size() * sizeof(double));
}

std::string npy_ints(const std::vector<size_t> &shape, const std::vector<int64_t> &v)
{
  return npy("<i8", shape, v.data(), v.size() * sizeof(int64_t));
}

// 0-d unicode array (numpy '<Un': UCS-4 little endian) holding ASCII text.
std::string npy_text(const std::string &text)
{
  std::string data;
  for (unsigned char c : text) put32(data, c);
  if (data.empty()) data.assign(4, '\0');
  return npy("<U" + std::to_string(data.size() / 4), {}, data.data(), data.size());
}

// Zip archive (method 0 = stored) of named members; numpy.load reads it as an NpzFile.
std::string zip_stored(const std::vector<std::pair<std::string, std::string>> &members)
{
  std::string out, central;
  const uint32_t dos_time = 0, dos_date = (0 << 9) | (1 << 5) | 1;    // 1980-01-01
  for (const auto &m : members) {
    if (m.second.size() >= 0xFFFFFFFFull || out.size() >= 0xFFFFFFFFull)
      throw std::runtime_error("occupancy grid too large for a (non-zip64) .npz file");
    const uint32_t crc = crc32(m.second), size = (uint32_t) m.second.size();
    const uint32_t offset = (uint32_t) out.size();
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, 0);
    put16(out, 0);
    put16(out, dos_time);
    put16(out, dos_date);
    put32(out, crc);
    put32(out, size);
    put32(out, size);
    put16(out, (uint32_t) m.first.size());
    put16(out, 0);
    out += m.first;
    out += m.second;
    put32(central, 0x02014b50);
    put16(central, 20);
    put16(central, 20);
    put16(central, 0);
    put16(central, 0);
    put16(central, dos_time);
    put16(central, dos_date);
    put32(central, crc);
    put32(central, size);
    put32(central, size);
    put16(central, (uint32_t) m.first.size());
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put32(central, 0);
    put32(central, offset);
    central += m.first;
  }
  const uint32_t cd_offset = (uint32_t) out.size();
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, (uint32_t) members.size());
  put16(out, (uint32_t) members.size());
  put32(out, (uint32_t) central.size());
  put32(out, cd_offset);
  put16(out, 0);
  return out;
}

}    // namespace

/* ---------------- construction ---------------- */

FixOccupancyGrid::FixOccupancyGrid(LAMMPS *lmp, int narg, char **arg) :
    FixSampled(lmp, narg, arg, STYLE), shape_from_spacing(false), start(0), stop(-1), norm_name("probability"),
    norm(ionsitu::OccupancyGrid::Norm::Probability), nsamples(0), step_first(-1),
    step_last(-1), totals_nsamples(-1)
{
  if (lmp->citeme) lmp->citeme->add(cite_fix_occupancy_grid);
  ionsitu::ArgReader args(lmp, STYLE, narg, arg);
  nevery = (int) args.positive_int(3, "Nevery");
  int shape[3] = {0, 0, 0};
  double spacing = 0.0;
  std::vector<int> seen(atom->ntypes + 1, 0);

  int iarg = 4;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "grid") {
      for (int k = 0; k < 3; ++k) {
        if (iarg + 1 + k >= narg)
          error->all(FLERR, "{}: grid needs three counts 'grid nx ny nz'", STYLE);
        shape[k] = (int) args.integer(arg[iarg + 1 + k], "grid count", 1, MAX_GRID_COUNT);
      }
      grid_arg = fmt::format("{} {} {}", shape[0], shape[1], shape[2]);
      iarg += 4;
    } else if (key == "spacing") {
      spacing = args.double_value(iarg);
      if (!(spacing > 0.0)) error->all(FLERR, "{}: spacing must be > 0, got {}", STYLE, arg[iarg + 1]);
      grid_arg = fmt::format("spacing {}", spacing);
      iarg += 2;
    } else if (key == "types") {
      ++iarg;
      while (iarg < narg && utils::is_integer(arg[iarg])) {
        const int t = (int) args.integer(arg[iarg], "types: atom type", 1, atom->ntypes);
        if (seen[t]++) error->all(FLERR, "{}: types: atom type {} given twice", STYLE, t);
        types.push_back(t);
        ++iarg;
      }
      if (types.empty())
        error->all(FLERR, "{}: types needs one or more atom types, got '{}'", STYLE,
                   iarg < narg ? arg[iarg] : "nothing");
    } else if (key == "start") {
      start = args.int_value(iarg, 0);
      iarg += 2;
    } else if (key == "stop") {
      stop = args.int_value(iarg, 0);
      iarg += 2;
    } else if (key == "norm") {
      norm_name = args.value(iarg);
      if (norm_name == "probability")
        norm = ionsitu::OccupancyGrid::Norm::Probability;
      else if (norm_name == "density")
        norm = ionsitu::OccupancyGrid::Norm::NumberDensity;
      else if (norm_name == "counts")
        norm = ionsitu::OccupancyGrid::Norm::Counts;
      else
        error->all(FLERR, "{}: norm must be probability, density or counts, got '{}'", STYLE, norm_name);
      iarg += 2;
    } else if (!parse_output_keyword(args, arg, iarg, prefix)) {
      error->all(FLERR, "{}: unknown keyword '{}'", STYLE, key);
    }
  }
  if (shape[0] > 0 && spacing > 0.0)
    error->all(FLERR, "{}: give either grid or spacing, not both", STYLE);
  if (shape[0] == 0 && spacing <= 0.0)
    error->all(FLERR, "{}: the grid is not defined: give 'grid nx ny nz' or 'spacing d'", STYLE);
  if (stop >= 0 && stop < start)
    error->all(FLERR, "{}: stop {} is before start {}", STYLE, stop, start);
  check_output(prefix);
  if (group->dynamic[igroup])
    error->all(FLERR, "{}: group {} is dynamic; use a static group (and types to select species)",
               STYLE, group->names[igroup]);

  if (spacing > 0.0) {    // from the edge lengths |a|, |b|, |c| of the box at definition
    const double *h = domain->h;
    const double len[3] = {h[0], std::sqrt(h[5] * h[5] + h[1] * h[1]),
                           std::sqrt(h[4] * h[4] + h[3] * h[3] + h[2] * h[2])};
    for (int k = 0; k < 3; ++k) {
      const double n = std::round(len[k] / spacing);
      if (n > MAX_GRID_COUNT)
        error->all(FLERR, "{}: spacing {} gives {} voxels along a box edge (at most {})", STYLE,
                   spacing, n, MAX_GRID_COUNT);
      shape[k] = std::max(1, (int) n);
    }
    shape_from_spacing = true;
  }
  const int ngrids = types.empty() ? 1 : (int) types.size();
  const double nvalues = (double) shape[0] * shape[1] * shape[2] * ngrids;
  if (nvalues > MAX_GRID_VALUES)
    error->all(FLERR, "{}: a {}x{}x{} grid for {} type(s) needs {:.4g} GiB of counts on every MPI rank; "
               "the limit is {:.0f} voxels x types ({:.0f} GiB)", STYLE, shape[0], shape[1], shape[2],
               ngrids, nvalues * 8 / (1ull << 30), MAX_GRID_VALUES, MAX_GRID_VALUES * 8 / (1ull << 30));
  try {
    grid = std::make_unique<ionsitu::OccupancyGrid>(shape[0], shape[1], shape[2], ngrids);
  } catch (std::exception &e) {
    error->all(FLERR, "{}: {}", STYLE, e.what());
  }
  index_of_type.assign(atom->ntypes + 1, types.empty() ? 0 : -1);
  for (size_t t = 0; t < types.size(); ++t) index_of_type[types[t]] = (int) t;
  local_totals.assign(ngrids, 0.0);
  totals.assign(ngrids, 0.0);

  scalar_flag = 1;
  vector_flag = 1;
  size_vector = ngrids;
  extscalar = 0;
  extvector = 0;
  global_freq = nevery;
  restart_global = 1;
}

void FixOccupancyGrid::init()
{
  FixSampled::init();
  // an empty group or a listed type with no atoms would give an all-zero "density"
  std::vector<double> local(1 + types.size(), 0.0), total(local.size());
  for (int i = 0; i < atom->nlocal; ++i) {
    if (!(atom->mask[i] & groupbit)) continue;
    local[0] += 1.0;
    if (!types.empty() && index_of_type[atom->type[i]] >= 0) local[1 + index_of_type[atom->type[i]]] += 1.0;
  }
  MPI_Allreduce(local.data(), total.data(), (int) local.size(), MPI_DOUBLE, MPI_SUM, world);
  if (total[0] == 0.0) error->all(FLERR, "{}: group {} is empty", STYLE, group->names[igroup]);
  for (size_t t = 0; t < types.size(); ++t)
    if (total[1 + t] == 0.0)
      error->all(FLERR, "{}: types: atom type {} has no atoms in group {}", STYLE, types[t],
                 group->names[igroup]);
}

std::vector<std::string> FixOccupancyGrid::output_paths() const
{
  if (prefix.empty()) return {};
  std::vector<std::string> p = {prefix + ".cube", prefix + ".npz"};
  for (int t : types) p.push_back(fmt::format("{}.type{}.cube", prefix, t));
  return p;
}

FixSampled::Arguments FixOccupancyGrid::restart_arguments() const
{
  std::string tl;
  for (size_t t = 0; t < types.size(); ++t) tl += (t ? " " : "") + std::to_string(types[t]);
  return {{"grid", grid_arg},
          {"types", tl.empty() ? "(all atoms of the group)" : tl},
          {"start", std::to_string(start)},
          {"stop", stop >= 0 ? std::to_string(stop) : "(none)"}};
}

void FixOccupancyGrid::sample()
{
  const bigint step = update->ntimestep;
  if (step == step_last || step < start || (stop >= 0 && step > stop)) return;
  const ionsitu::Box box = ionsitu::current_box(domain);
  const int nlocal = atom->nlocal;
  const int *mask = atom->mask;
  const int *type = atom->type;
  tidx.resize(nlocal);
  for (int i = 0; i < nlocal; ++i) {
    tidx[i] = (mask[i] & groupbit) ? index_of_type[type[i]] : -1;
    if (tidx[i] >= 0) local_totals[tidx[i]] += 1.0;
  }
  grid->add_positions(box, nlocal, nlocal ? atom->x[0] : nullptr, tidx.data());
  if (comm->me == 0) grid->add_frame(box);    // frames and cell sums: once, on rank 0
  ++nsamples;
  if (step_first < 0) step_first = step;
  step_last = step;
}

/* ---------------- global output ---------------- */

double FixOccupancyGrid::compute_scalar()
{
  return (double) nsamples;
}

double FixOccupancyGrid::compute_vector(int i)
{
  if (totals_nsamples != nsamples) {
    MPI_Allreduce(local_totals.data(), totals.data(), (int) totals.size(), MPI_DOUBLE, MPI_SUM, world);
    totals_nsamples = nsamples;
  }
  return totals[i];
}

std::vector<double> FixOccupancyGrid::reduced_counts()
{
  const std::vector<double> &c = grid->counts();
  std::vector<double> sum(comm->me == 0 ? c.size() : 0);
  // in chunks, so that huge grids do not overflow MPI's int counts
  const size_t chunk = 1 << 26;
  for (size_t off = 0; off < c.size(); off += chunk) {
    const int n = (int) std::min(chunk, c.size() - off);
    MPI_Reduce(c.data() + off, comm->me == 0 ? sum.data() + off : nullptr, n, MPI_DOUBLE, MPI_SUM, 0, world);
  }
  return sum;
}

double FixOccupancyGrid::length_to_bohr() const
{
  const std::string u = update->unit_style;
  if (u == "metal" || u == "real") return 1.0 / BOHR_ANGSTROM;
  if (u == "electron") return 1.0;
  if (u == "si") return 1e10 / BOHR_ANGSTROM;
  if (u == "cgs") return 1e8 / BOHR_ANGSTROM;
  if (u == "micro") return 1e4 / BOHR_ANGSTROM;
  if (u == "nano") return 10.0 / BOHR_ANGSTROM;
  return 1.0;    // lj: lengths in sigma are written unchanged (documented)
}

std::string FixOccupancyGrid::meta_json(const ionsitu::OccupancyGrid &g) const
{
  using ionsitu::json_string;
  std::string tl;
  for (size_t t = 0; t < types.size(); ++t) tl += (t ? ", " : "") + std::to_string(types[t]);
  return fmt::format(
      "{{\"format\": \"ionsitu-occupancy\", \"version\": 1, \"producer\": \"fix occupancy/grid\", "
      "\"fix_id\": {}, \"group\": {}, \"types\": [{}], \"shape\": [{}, {}, {}], \"nevery\": {}, "
      "\"nframes\": {:.17g}, \"step_first\": {}, \"step_last\": {}, \"start\": {}, \"stop\": {}, "
      "\"dt\": {:.17g}, \"units\": {}, \"cube_norm\": {}, \"cube_length_to_bohr\": {:.17g}}}",
      json_string(id), json_string(group->names[igroup]), tl, g.nx(), g.ny(), g.nz(), nevery,
      g.nframes(), step_first, step_last, start, stop, update->dt, json_string(update->unit_style),
      json_string(norm_name), length_to_bohr());
}

void FixOccupancyGrid::write_output()
{
  if (prefix.empty() || nsamples == 0) return;
  std::vector<double> sum = reduced_counts();
  write_files([&] {
    ionsitu::OccupancyGrid g = *grid;    // rank 0 holds the frames; add the counts of all ranks
    g.counts() = std::move(sum);
    const double f = length_to_bohr();
    const std::string what = fmt::format("ionsitu fix occupancy/grid {} group {}, units {}{}", id,
                                         group->names[igroup], update->unit_style,
                                         f == 1.0 && std::string(update->unit_style) == "lj"
                                             ? " (lj: lengths in sigma, not converted)"
                                             : "");
    g.write_cube(prefix + ".cube", -1, norm, f, nullptr, what + ", all types");
    for (size_t t = 0; t < types.size(); ++t)
      g.write_cube(fmt::format("{}.type{}.cube", prefix, types[t]), (int) t, norm, f, nullptr,
                   fmt::format("{}, atom type {}", what, types[t]));

    const ionsitu::Box b = g.mean_box();
    const std::vector<double> cell = {b.h[0], 0.0, 0.0, b.h[5], b.h[1], 0.0, b.h[4], b.h[3], b.h[2]};
    std::vector<int64_t> tl;
    for (int t : types) tl.push_back(t);
    if (tl.empty()) tl.push_back(0);
    const std::vector<std::pair<std::string, std::string>> members = {
        {"counts.npy",
         npy_doubles({(size_t) g.ntypes(), (size_t) g.nx(), (size_t) g.ny(), (size_t) g.nz()}, g.counts())},
        {"cell.npy", npy_doubles({3, 3}, cell)},
        {"origin.npy", npy_doubles({3}, {b.lo[0], b.lo[1], b.lo[2]})},
        {"nframes.npy", npy_doubles({}, {g.nframes()})},
        {"types.npy", npy_ints({tl.size()}, tl)},
        {"meta.npy", npy_text(meta_json(g))},
    };
    ionsitu::write_file_atomic(prefix + ".npz", zip_stored(members));
  });
}

/* ---------------- restart: counts of all ranks, kept by rank 0 ---------------- */

void FixOccupancyGrid::write_restart(FILE *fp)
{
  std::vector<double> sum = reduced_counts();
  if (comm->me != 0) return;
  ionsitu::OccupancyGrid g = *grid;
  g.counts() = std::move(sum);
  std::vector<double> buf = {(double) RESTART_VERSION, (double) nsamples, (double) step_first,
                             (double) step_last, (double) types.size()};
  for (int t : types) buf.push_back(t);
  const std::vector<double> rec = g.serialize();
  buf.insert(buf.end(), rec.begin(), rec.end());
  write_restart_record(fp, buf);
}

void FixOccupancyGrid::restart(char *raw)
{
  const std::vector<double> buf = read_restart_record(raw);
  if (buf.size() < 5 || (int) buf[0] != RESTART_VERSION)
    error->all(FLERR, "{} {}: restart record is not a version-{} record of this fix", STYLE, id,
               RESTART_VERSION);
  const size_t ntl = (size_t) buf[4];    // the types (equal: checked with the arguments)
  const size_t off = 5 + ntl;
  if (buf.size() < off + ionsitu::OccupancyGrid::kHeaderDoubles)
    error->all(FLERR, "{} {}: restart record is too short", STYLE, id);
  const int sx = (int) buf[off + 1], sy = (int) buf[off + 2], sz = (int) buf[off + 3];
  if (sx != grid->nx() || sy != grid->ny() || sz != grid->nz()) {
    if (!shape_from_spacing)
      error->all(FLERR, "{} {}: the restart file holds a {}x{}x{} grid, the fix asks for {}x{}x{}", STYLE,
                 id, sx, sy, sz, grid->nx(), grid->ny(), grid->nz());
    // spacing: the box at definition may differ slightly from the original one; keep the stored grid
    if (comm->me == 0)
      error->warning(FLERR, "{} {}: keeping the {}x{}x{} grid of the restart file (spacing gives {}x{}x{})",
                     STYLE, id, sx, sy, sz, grid->nx(), grid->ny(), grid->nz());
    grid = std::make_unique<ionsitu::OccupancyGrid>(sx, sy, sz, grid->ntypes());
  }
  try {
    grid->deserialize(buf.data() + off, buf.size() - off);
  } catch (std::exception &e) {
    error->all(FLERR, "{} {}: {}", STYLE, id, e.what());
  }
  nsamples = (bigint) buf[1];
  step_first = (bigint) buf[2];
  step_last = (bigint) buf[3];
  std::fill(local_totals.begin(), local_totals.end(), 0.0);
  if (comm->me == 0) {
    for (int t = 0; t < grid->ntypes(); ++t) {
      const std::vector<double> c = grid->type_counts(t);
      for (double v : c) local_totals[t] += v;
    }
  } else {
    grid->reset();    // counts, frames and cell sums live on rank 0 only
  }
  totals_nsamples = -1;
}

double FixOccupancyGrid::memory_usage()
{
  return (double) grid->counts().size() * sizeof(double) + (double) tidx.capacity() * sizeof(int);
}
