// ionsitu: fix msd/cross.  Argument parsing, per-atom ring buffers that migrate with atoms,
// MPI reductions, output and restart around ionsitu::MsdCorrelator (all maths is there).

#include "fix_msd_cross.h"

#include "fix_common.h"

#include "atom.h"
#include "citeme.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "group.h"
#include "update.h"

#include <cmath>

using namespace LAMMPS_NS;

static const char *const STYLE = "fix msd/cross";
// The algorithm's paper, registered with LAMMPS's citation reminder (log;
// BibTeX with -cite FILE).
static const char cite_fix_msd_cross[] =
    "fix msd/cross command (order-n multiple-window MSD correlator):\n\n"
    "@Article{Dubbeldam09,\n"
    " author = {D. Dubbeldam and D. C. Ford and D. E. Ellis and R. Q. Snurr},\n"
    " title = {A new perspective on the order-n algorithm for computing correlation functions},\n"
    " journal = {Mol.\\ Simul.},\n"
    " year = 2009,\n"
    " volume = 35,\n"
    " pages = {1084--1097}\n"
    "}\n\n";
static constexpr long long MAX_BLOCK = 100000;
static constexpr long long MAX_LEVELS = 64;

FixMSDCross::FixMSDCross(LAMMPS *lmp, int narg, char **arg) :
    FixSampled(lmp, narg, arg, STYLE), drift_group(-1), drift_name("all"), natoms_group(-1),
    step_first(-1), step_last(-1), dt_first(0.0), table_nsamples(-1)
{
  if (lmp->citeme) lmp->citeme->add(cite_fix_msd_cross);
  ionsitu::ArgReader args(lmp, STYLE, narg, arg);
  nevery = (int) args.positive_int(3, "Nevery");
  int block = 10, levels = 7;
  std::vector<int> seen_type(atom->ntypes + 1, 0);

  int iarg = 4;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "block") {
      block = (int) args.int_value(iarg, 2, MAX_BLOCK);
      iarg += 2;
    } else if (key == "levels") {
      levels = (int) args.int_value(iarg, 1, MAX_LEVELS);
      iarg += 2;
    } else if (key == "drift") {
      drift_name = args.value(iarg);
      if (drift_name != "all" && drift_name != "none" && group->find(drift_name) < 0)
        error->all(FLERR, "{}: drift group '{}' does not exist (use all, none or a group ID)", STYLE,
                   drift_name);
      iarg += 2;
    } else if (key == "charges") {
      ++iarg;
      while (iarg < narg && utils::is_integer(arg[iarg])) {
        if (iarg + 1 >= narg || !utils::is_double(arg[iarg + 1]))
          error->all(FLERR, "{}: charges: type {} needs a numeric charge", STYLE, arg[iarg]);
        const int t = (int) args.integer(arg[iarg], "charges: atom type", 1, atom->ntypes);
        if (seen_type[t]++) error->all(FLERR, "{}: charges: atom type {} given twice", STYLE, t);
        species_types.push_back(t);
        species_charges.push_back(args.number(arg[iarg + 1], "charges: charge"));
        iarg += 2;
      }
      if (species_types.empty())
        error->all(FLERR, "{}: charges needs pairs of 'type charge', got '{}'", STYLE,
                   iarg < narg ? arg[iarg] : "nothing");
    } else if (!parse_output_keyword(args, arg, iarg, filename)) {
      error->all(FLERR, "{}: unknown keyword '{}'", STYLE, key);
    }
  }
  check_output(filename);
  if (group->dynamic[igroup])
    error->all(FLERR, "{}: group {} is dynamic; atoms must not enter or leave the group", STYLE,
               group->names[igroup]);

  // before allocating: per-atom ring buffers (MsdCorrelator::peratom_doubles) and the reach
  check_peratom_size(3.0 * block * levels, "block x levels");
  const double reach_steps = nevery * (block - 1.0) * std::pow((double) block, levels - 1.0);
  if (reach_steps > 9.0e18)
    error->all(FLERR, "{}: Nevery {}, block {} and levels {} reach lags of {:.3g} steps; at most 9e18 "
               "(64-bit steps)", STYLE, nevery, block, levels, reach_steps);
  if (drift_name != "all" && drift_name != "none") identity_groups.push_back(drift_name);
  try {
    corr = std::make_unique<ionsitu::MsdCorrelator>(block, levels, (int) species_types.size());
  } catch (std::exception &e) {
    error->all(FLERR, "{}: {}", STYLE, e.what());
  }
  species_of_type.assign(atom->ntypes + 1, -1);
  for (size_t a = 0; a < species_types.size(); ++a) species_of_type[species_types[a]] = (int) a;
  species_counts.assign(species_types.size(), 0);

  array_flag = 1;
  size_array_rows = corr->nlags();
  size_array_cols = (int) corr->column_names(species_types).size();
  extarray = 0;
  global_freq = nevery;
  restart_global = 1;
  use_peratom_state(corr->peratom_doubles(), "block x levels");
}

std::vector<std::string> FixMSDCross::output_paths() const
{
  if (filename.empty()) return {};
  return {filename};
}

FixSampled::Arguments FixMSDCross::restart_arguments() const
{
  std::string charges;
  for (size_t a = 0; a < species_types.size(); ++a)
    charges += fmt::format("{}{} {}", a ? " " : "", species_types[a], species_charges[a]);
  return {{"block", std::to_string(corr->block())},
          {"levels", std::to_string(corr->levels())},
          {"drift", drift_name},
          {"charges", charges.empty() ? "(none)" : charges},
          {"timestep", fmt::format("{}", dt_sampled >= 0.0 ? dt_sampled : update->dt)}};
}

void FixMSDCross::init()
{
  FixSampled::init();
  if (drift_name == "all") {
    drift_group = 0;
  } else if (drift_name == "none") {
    drift_group = -1;
  } else {
    drift_group = group->find(drift_name);
    if (drift_group < 0) error->all(FLERR, "{}: drift group '{}' no longer exists", STYLE, drift_name);
    if (group->dynamic[drift_group])
      error->all(FLERR, "{}: drift group '{}' is dynamic", STYLE, drift_name);
  }
}

void FixMSDCross::sample()
{
  const bigint step = update->ntimestep;
  if (step == step_last) return;
  check_sample_step(step, step_last);

  double **x = atom->x;
  imageint *image = atom->image;
  int *mask = atom->mask;
  int *type = atom->type;
  const int nlocal = atom->nlocal;
  const int nspecies = corr->nspecies();
  const int drift_bit = drift_group >= 0 ? group->bitmask[drift_group] : 0;

  // mass-weighted drift sums (4), group count, species counts; the group's unwrapped
  // positions in local order (one unmap per atom; the drift is subtracted below)
  std::vector<double> &local = sample_drift, &global = sample_drift_total;
  local.assign(5 + nspecies, 0.0);
  global.resize(5 + nspecies);
  sample_x.resize(3 * (size_t) nlocal);
  sample_history.resize(nlocal);
  sample_species.resize(nlocal);
  int n = 0;
  double xu[3];
  for (int i = 0; i < nlocal; ++i) {
    const bool in_group = mask[i] & groupbit, in_drift = mask[i] & drift_bit;
    if (!in_group && !in_drift) continue;
    domain->unmap(x[i], image[i], xu);
    if (in_drift) {
      const double m = atom->rmass ? atom->rmass[i] : atom->mass[type[i]];
      local[0] += m * xu[0];
      local[1] += m * xu[1];
      local[2] += m * xu[2];
      local[3] += m;
    }
    if (in_group) {
      local[4] += 1.0;
      const int s = species_of_type[type[i]];
      if (s >= 0) local[5 + s] += 1.0;
      double *xs = &sample_x[3 * (size_t) n];
      xs[0] = xu[0];
      xs[1] = xu[1];
      xs[2] = xu[2];
      sample_history[n] = peratom[i];
      sample_species[n] = s;
      ++n;
    }
  }
  {
    SyncTimer sync(this);
    MPI_Allreduce(local.data(), global.data(), (int) local.size(), MPI_DOUBLE, MPI_SUM, world);
  }
  double com[3] = {0.0, 0.0, 0.0};
  if (drift_group >= 0) {
    if (global[3] <= 0.0)
      error->all(FLERR, "{}: drift group '{}' has no atoms (or no mass)", STYLE, drift_name);
    for (int d = 0; d < 3; ++d) com[d] = global[d] / global[3];
  }

  const auto count = (bigint) global[4];
  if (natoms_group < 0) {
    if (count == 0) error->all(FLERR, "{}: group {} is empty", STYLE, group->names[igroup]);
    for (int s = 0; s < nspecies; ++s) {
      species_counts[s] = (bigint) global[5 + s];
      if (species_counts[s] == 0)
        error->all(FLERR, "{}: charges: atom type {} has no atoms in group {}", STYLE,
                   species_types[s], group->names[igroup]);
    }
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
  for (int j = 0; j < n; ++j)
    for (int d = 0; d < 3; ++d) sample_x[3 * (size_t) j + d] -= com[d];
  corr->add_atoms(n, sample_history.data(), sample_x.data(), sample_species.data());
  std::vector<double> &partial = corr->collective_partial();
  sample_total.resize(partial.size());
  {
    SyncTimer sync(this);
    MPI_Allreduce(partial.data(), sample_total.data(), (int) partial.size(), MPI_DOUBLE, MPI_SUM, world);
  }
  corr->end_sample(sample_total.data());
  step_last = step;
}

// Reduce the rank-local self sums and refresh the result table (collective call).
void FixMSDCross::reduce_table()
{
  if (table_nsamples == corr->nsamples()) return;
  const std::vector<double> &self = corr->self_sums();
  std::vector<double> self_total(self.size());
  MPI_Allreduce(self.data(), self_total.data(), (int) self.size(), MPI_DOUBLE, MPI_SUM, world);
  corr->fill_table(self_total, species_charges, nevery, dt_first, table);
  table_nsamples = corr->nsamples();
}

double FixMSDCross::compute_array(int i, int j)
{
  reduce_table();
  return table[(size_t) i * size_array_cols + j];
}

std::string FixMSDCross::meta_json() const
{
  using ionsitu::json_string;
  std::string types, charges, counts;
  for (size_t a = 0; a < species_types.size(); ++a) {
    const char *sep = a ? ", " : "";
    types += sep + std::to_string(species_types[a]);
    charges += sep + fmt::format("{:.17g}", species_charges[a]);
    counts += sep + std::to_string(species_counts[a]);
  }
  const bigint n = corr->nsamples();
  return fmt::format(
      "{{\"format\": \"ionsitu-msd\", \"version\": 2, \"producer\": \"fix msd/cross\", "
      "\"fix_id\": {}, \"group\": {}, \"natoms\": {}, \"nevery\": {}, \"block\": {}, "
      "\"levels\": {}, \"dt\": {:.17g}, \"units\": {}, \"drift\": {}, \"types\": [{}], "
      "\"charges\": [{}], \"species_counts\": [{}], \"volume\": {:.17g}, \"nsamples\": {}, "
      "\"step_first\": {}, \"step_last\": {}}}",
      json_string(id), json_string(group->names[igroup]), natoms_group, nevery, corr->block(),
      corr->levels(), dt_first, json_string(update->unit_style), json_string(drift_name), types,
      charges, counts, n > 0 ? corr->volume_sum() / (double) n : 0.0, n, step_first, step_last);
}

void FixMSDCross::write_output()
{
  if (filename.empty() || corr->nsamples() == 0) return;
  reduce_table();
  write_files([&] {
    ionsitu::write_file_atomic(filename,
                               ionsitu::format_msd_text(meta_json(), corr->column_names(species_types), table));
  });
}

/* ---------------- restart: global record = fix fields + correlator ---------------- */

void FixMSDCross::write_restart(FILE *fp)
{
  const std::vector<double> &self = corr->self_sums();
  std::vector<double> self_total(self.size());
  MPI_Allreduce(self.data(), self_total.data(), (int) self.size(), MPI_DOUBLE, MPI_SUM, world);
  write_group_record(fp, {natoms_group, step_first, step_last, dt_first, species_counts}, corr->serialize(self_total));
}

void FixMSDCross::restart(char *raw)
{
  const std::vector<double> rec =
      read_group_record(raw, {natoms_group, step_first, step_last, dt_first, species_counts});
  try {
    corr->deserialize(rec.data(), rec.size(), comm->me == 0);
  } catch (std::exception &e) {
    error->all(FLERR, "{} {}: {}", STYLE, id, e.what());
  }
  table_nsamples = -1;
}

double FixMSDCross::memory_usage()
{
  return peratom_bytes() +
      sizeof(double) * (corr->self_sums().size() + corr->collective_sums().size() + table.size()) +
      sizeof(double) * (sample_x.capacity() + sample_total.capacity()) +
      sizeof(double *) * sample_history.capacity() + sizeof(int) * sample_species.capacity();
}
