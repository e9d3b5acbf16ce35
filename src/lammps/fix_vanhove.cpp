// ionsitu: fix vanhove.  Argument parsing, per-atom ring buffers that migrate with atoms,
// MPI reductions, output and restart around ionsitu::MsdCorrelator's displacement
// histogram and van_hove.h (all maths is there).

#include "fix_vanhove.h"

#include "fix_common.h"
#include "vacf_correlator.h"    // format_tagged_table
#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "group.h"
#include "update.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace LAMMPS_NS;

static const char *const STYLE = "fix vanhove";
static constexpr long long MAX_BLOCK = 100000;
static constexpr long long MAX_LEVELS = 64;
static constexpr long long MAX_BINS = 100000;

static std::string join_steps(const std::vector<bigint> &v, const char *sep)
{
  std::string out;
  for (size_t k = 0; k < v.size(); ++k) out += (k ? sep : "") + std::to_string(v[k]);
  return out;
}

FixVanHove::FixVanHove(LAMMPS *lmp, int narg, char **arg) :
    FixSampled(lmp, narg, arg, STYLE), rmax(0.0), bins(0), natoms_group(-1), step_first(-1),
    step_last(-1), dt_first(0.0), table_nsamples(-1)
{
  ionsitu::ArgReader args(lmp, STYLE, narg, arg);
  nevery = (int) args.positive_int(3, "Nevery");
  int block = 10, levels = 7;

  int iarg = 4;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "rmax") {
      rmax = args.double_value(iarg);
      if (!(rmax > 0.0)) error->all(FLERR, "{}: rmax must be > 0, got {}", STYLE, arg[iarg + 1]);
      iarg += 2;
    } else if (key == "bins") {
      bins = (int) args.int_value(iarg, 1, MAX_BINS);
      iarg += 2;
    } else if (key == "block") {
      block = (int) args.int_value(iarg, 2, MAX_BLOCK);
      iarg += 2;
    } else if (key == "levels") {
      levels = (int) args.int_value(iarg, 1, MAX_LEVELS);
      iarg += 2;
    } else if (key == "lags") {
      ++iarg;
      while (iarg < narg && utils::is_integer(arg[iarg])) {
        dlags.push_back(args.integer(arg[iarg], "lags", 0, ionsitu::MAX_STEP));
        ++iarg;
      }
      if (dlags.empty())
        error->all(FLERR, "{}: lags needs one or more lags in steps, got '{}'", STYLE, iarg < narg ? arg[iarg] : "nothing");
    } else if (key == "origins") {
      origin_steps = args.int_value(iarg, 1);
      iarg += 2;
    } else if (key == "dfile") {
      dfilename = args.value(iarg);
      iarg += 2;
    } else if (!parse_output_keyword(args, arg, iarg, filename)) {
      error->all(FLERR, "{}: unknown keyword '{}'", STYLE, key);
    }
  }
  if (rmax == 0.0) error->all(FLERR, "{}: keyword rmax is required (rmax R, the histogram range)", STYLE);
  if (bins == 0) error->all(FLERR, "{}: keyword bins is required (bins n, the number of bins)", STYLE);
  check_output(filename);
  if (!dfilename.empty()) check_output(dfilename);
  for (size_t k = 0; k < dlags.size(); ++k) {
    if (dlags[k] % nevery)
      error->all(FLERR, "{}: lags: lag {} is not a multiple of Nevery {}", STYLE, dlags[k], nevery);
    if (k > 0 && dlags[k] <= dlags[k - 1])
      error->all(FLERR, "{}: lags must be ascending and unique, got {} then {}", STYLE, dlags[k - 1], dlags[k]);
  }
  if (origin_steps == 0) origin_steps = nevery;
  if (origin_steps % nevery)
    error->all(FLERR, "{}: origins {} is not a multiple of Nevery {}", STYLE, origin_steps, nevery);
  if (dlags.empty() && !dfilename.empty())
    error->all(FLERR, "{}: dfile {} needs lags (the lags of the distinct part)", STYLE, dfilename);
  if (group->dynamic[igroup])
    error->all(FLERR, "{}: group {} is dynamic; atoms must not enter or leave the group", STYLE,
               group->names[igroup]);

  check_peratom_size(3.0 * block * levels, "block x levels");
  const double reach_steps = nevery * (block - 1.0) * std::pow((double) block, levels - 1.0);
  if (reach_steps > 9.0e18)
    error->all(FLERR, "{}: Nevery {}, block {} and levels {} reach lags of {:.3g} steps; at most 9e18 "
               "(64-bit steps)", STYLE, nevery, block, levels, reach_steps);
  if ((double) levels * (block - 1) * bins > 1.0e8)
    error->all(FLERR, "{}: levels x (block - 1) x bins = {} histogram bins; at most 1e8", STYLE,
               (double) levels * (block - 1) * bins);
  try {
    corr = std::make_unique<ionsitu::MsdCorrelator>(block, levels, 0);
    corr->set_distance_histogram(bins, rmax);
  } catch (std::exception &e) {
    error->all(FLERR, "{}: {}", STYLE, e.what());
  }

  array_flag = 1;
  size_array_rows = corr->nlags();
  size_array_cols = 5 + bins;
  extarray = 0;
  global_freq = nevery;
  restart_global = 1;
  use_peratom_state(corr->peratom_doubles(), "block x levels");
}

std::vector<std::string> FixVanHove::output_paths() const
{
  std::vector<std::string> paths;
  if (!filename.empty()) paths.push_back(filename);
  if (!dfilename.empty()) paths.push_back(dfilename);
  return paths;
}

FixSampled::Arguments FixVanHove::restart_arguments() const
{
  return {{"rmax", fmt::format("{}", rmax)},
          {"bins", std::to_string(bins)},
          {"block", std::to_string(corr->block())},
          {"levels", std::to_string(corr->levels())},
          {"lags", dlags.empty() ? std::string("(none)") : join_steps(dlags, " ")},
          {"origins", std::to_string(origin_steps)},
          {"timestep", fmt::format("{}", dt_sampled >= 0.0 ? dt_sampled : update->dt)}};
}

void FixVanHove::sample()
{
  const bigint step = update->ntimestep;
  if (step == step_last) return;
  check_sample_step(step, step_last);

  double **x = atom->x;
  imageint *image = atom->image;
  int *mask = atom->mask;
  const int nlocal = atom->nlocal;

  // the group's unwrapped positions in local order (no drift correction)
  sample_x.resize(3 * (size_t) nlocal);
  sample_history.resize(nlocal);
  sample_species.assign(nlocal, -1);
  int n = 0;
  for (int i = 0; i < nlocal; ++i) {
    if (!(mask[i] & groupbit)) continue;
    domain->unmap(x[i], image[i], &sample_x[3 * (size_t) n]);
    sample_history[n] = peratom[i];
    ++n;
  }
  bigint mine = n, count = 0;
  MPI_Allreduce(&mine, &count, 1, MPI_LMP_BIGINT, MPI_SUM, world);
  if (natoms_group < 0) {
    if (count == 0) error->all(FLERR, "{}: group {} is empty", STYLE, group->names[igroup]);
    natoms_group = count;
    step_first = step;
    dt_first = update->dt;
  } else if (count != natoms_group) {
    error->all(FLERR,
               "{}: group {} had {} atoms at the first sample and has {} at step {}; atoms must "
               "not enter or leave the group (or be lost)",
               STYLE, group->names[igroup], natoms_group, count, step);
  }

  corr->begin_sample(domain->xprd * domain->yprd * domain->zprd);
  corr->add_atoms(n, sample_history.data(), sample_x.data(), sample_species.data());
  std::vector<double> &partial = corr->collective_partial();
  sample_total.resize(partial.size());
  MPI_Allreduce(partial.data(), sample_total.data(), (int) partial.size(), MPI_DOUBLE, MPI_SUM, world);
  corr->end_sample(sample_total.data());
  if (!dlags.empty()) sample_distinct(n);
  step_last = step;
}

void FixVanHove::make_distinct(bigint natoms)
{
  if (dist || dlags.empty()) return;
  std::vector<int64_t> lag_samples;
  for (bigint l : dlags) lag_samples.push_back(l / nevery);
  const int64_t every = origin_steps / nevery;
  const double refs = (double) (lag_samples.back() / every + 1);
  if (natoms > MAXSMALLINT || refs * 3.0 * (double) natoms > 1.0e9)
    error->all(FLERR, "{}: lags up to {} with origins {} hold {:.0f} reference snapshots of {} atoms; at most "
               "1e9 doubles (raise origins)", STYLE, dlags.back(), origin_steps, refs, natoms);
  try {
    dist = std::make_unique<ionsitu::VanHoveDistinct>(lag_samples, every, bins, rmax, (int) natoms);
  } catch (std::exception &e) {
    error->all(FLERR, "{}: {}", STYLE, e.what());
  }
}

// The group's unwrapped positions (sample_x, n local atoms in mask order) gathered to every rank
// in atom-ID order; each rank counts the pairs of its share of reference atoms.
void FixVanHove::sample_distinct(int n)
{
  make_distinct(natoms_group);
  const int nprocs = comm->nprocs;
  std::vector<tagint> mytags;
  mytags.reserve(n);
  for (int i = 0; i < atom->nlocal; ++i)
    if (atom->mask[i] & groupbit) mytags.push_back(atom->tag[i]);
  gather_counts.resize(nprocs);
  gather_displs.resize(nprocs);
  MPI_Allgather(&n, 1, MPI_INT, gather_counts.data(), 1, MPI_INT, world);
  std::partial_sum(gather_counts.begin(), gather_counts.end() - 1, gather_displs.begin() + 1);
  gather_displs[0] = 0;
  const int N = (int) natoms_group;
  gather_tag.resize(N);
  MPI_Allgatherv(mytags.data(), n, MPI_LMP_TAGINT, gather_tag.data(), gather_counts.data(), gather_displs.data(),
                 MPI_LMP_TAGINT, world);
  for (int p = 0; p < nprocs; ++p) gather_counts[p] *= 3, gather_displs[p] *= 3;
  gather_x.resize(3 * (size_t) N);
  MPI_Allgatherv(sample_x.data(), 3 * n, MPI_DOUBLE, gather_x.data(), gather_counts.data(), gather_displs.data(),
                 MPI_DOUBLE, world);
  std::vector<int> order(N);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return gather_tag[a] < gather_tag[b]; });
  ordered_x.resize(3 * (size_t) N);
  for (int j = 0; j < N; ++j)
    for (int d = 0; d < 3; ++d) ordered_x[3 * (size_t) j + d] = gather_x[3 * (size_t) order[j] + d];
  const ionsitu::Box box = ionsitu::current_box(domain);
  const int i0 = (int) ((bigint) N * comm->me / nprocs), i1 = (int) ((bigint) N * (comm->me + 1) / nprocs);
  try {
    dist->add_sample(ordered_x.data(), box, i0, i1);
  } catch (std::exception &e) {
    error->all(FLERR, "{}: {} at step {}", STYLE, e.what(), update->ntimestep);
  }
}

std::vector<double> FixVanHove::distinct_total()
{
  const std::vector<double> &hist = dist->histogram();
  std::vector<double> total(hist.size());
  MPI_Allreduce(hist.data(), total.data(), (int) hist.size(), MPI_DOUBLE, MPI_SUM, world);
  return total;
}

void FixVanHove::totals(std::vector<double> &self_total, std::vector<double> &hist_total)
{
  const std::vector<double> &self = corr->self_sums();
  const std::vector<double> &hist = corr->distance_histogram();
  self_total.resize(self.size());
  hist_total.resize(hist.size());
  MPI_Allreduce(self.data(), self_total.data(), (int) self.size(), MPI_DOUBLE, MPI_SUM, world);
  MPI_Allreduce(hist.data(), hist_total.data(), (int) hist.size(), MPI_DOUBLE, MPI_SUM, world);
}

// Reduce the rank-local sums and refresh the result table (collective call).
void FixVanHove::reduce_table()
{
  if (table_nsamples == corr->nsamples()) return;
  std::vector<double> self_total, hist_total;
  totals(self_total, hist_total);
  ionsitu::fill_van_hove_self_table(*corr, self_total, hist_total, nevery, dt_first, table);
  table_nsamples = corr->nsamples();
}

double FixVanHove::compute_array(int i, int j)
{
  reduce_table();
  return table[(size_t) i * size_array_cols + j];
}

std::string FixVanHove::meta_json(const char *format) const
{
  using ionsitu::json_string;
  return fmt::format(
      "{{\"format\": \"{}\", \"version\": 1, \"producer\": \"fix vanhove\", \"fix_id\": {}, "
      "\"group\": {}, \"natoms\": {}, \"nevery\": {}, \"block\": {}, \"levels\": {}, \"rmax\": {:.17g}, "
      "\"bins\": {}, \"dt\": {:.17g}, \"units\": {}, \"nsamples\": {}, \"step_first\": {}, \"step_last\": {}, "
      "\"lags\": [{}], \"origins\": {}, \"h\": [{:.17g}, {:.17g}, {:.17g}, {:.17g}, {:.17g}, {:.17g}]}}",
      format, json_string(id), json_string(group->names[igroup]), natoms_group, nevery, corr->block(), corr->levels(),
      rmax, bins, dt_first, json_string(update->unit_style), corr->nsamples(), step_first, step_last, join_steps(dlags, ", "), origin_steps,
      domain->xprd, domain->yprd, domain->zprd, domain->yz, domain->xz, domain->xy);
}

void FixVanHove::write_output()
{
  if (corr->nsamples() == 0 || !has_output()) return;
  reduce_table();
  if (dist) dist->fill_table(distinct_total(), nevery, dt_first, dtable);
  write_files([&] {
    if (!filename.empty())
      ionsitu::write_file_atomic(filename, ionsitu::format_tagged_table("ionsitu-vanhove", 1, meta_json("ionsitu-vanhove"),
                                                                        ionsitu::van_hove_self_columns(bins), table));
    if (!dfilename.empty() && dist)
      ionsitu::write_file_atomic(dfilename,
                                 ionsitu::format_tagged_table("ionsitu-vanhove-distinct", 1,
                                                              meta_json("ionsitu-vanhove-distinct"), dist->columns(), dtable));
  });
}

/* ---------------- restart: global record = fix fields + correlator + histogram ---------------- */

void FixVanHove::write_restart(FILE *fp)
{
  std::vector<double> self_total, hist_total;
  totals(self_total, hist_total);
  // values: length of the self record, the self record, then the distinct record (if any)
  std::vector<double> rec = ionsitu::serialize_van_hove_self(*corr, self_total, hist_total);
  rec.insert(rec.begin(), (double) rec.size());
  if (dist) {
    const std::vector<double> d = dist->serialize(distinct_total());
    rec.insert(rec.end(), d.begin(), d.end());
  }
  write_group_record(fp, {natoms_group, step_first, step_last, dt_first, no_species}, rec);
}

void FixVanHove::restart(char *raw)
{
  const std::vector<double> rec = read_group_record(raw, {natoms_group, step_first, step_last, dt_first, no_species});
  try {
    const size_t nself = rec.empty() ? 0 : (size_t) rec[0];
    if (rec.empty() || 1 + nself > rec.size()) throw std::runtime_error("van Hove restart record has the wrong size");
    ionsitu::deserialize_van_hove_self(*corr, rec.data() + 1, nself, comm->me == 0);
    const size_t rest = rec.size() - 1 - nself;
    if (rest > 0 && dlags.empty()) throw std::runtime_error("the restart record has a distinct part; the fix has no lags");
    if (!dlags.empty() && natoms_group > 0) {
      make_distinct(natoms_group);
      if (rest > 0) dist->deserialize(rec.data() + 1 + nself, rest, comm->me == 0);
    }
  } catch (std::exception &e) {
    error->all(FLERR, "{} {}: {}", STYLE, id, e.what());
  }
  table_nsamples = -1;
}

double FixVanHove::memory_usage()
{
  return peratom_bytes() +
      sizeof(double) * (corr->self_sums().size() + corr->distance_histogram().size() + table.size()) +
      (dist ? sizeof(double) * (dist->reference_doubles() + dist->histogram().size() + ordered_x.size() + gather_x.size()) : 0.0);
}
