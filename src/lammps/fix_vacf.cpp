// ionsitu: fix vacf.  Argument parsing, per-atom velocity rings that migrate with atoms,
// MPI reductions, output and restart around ionsitu::VacfCorrelator (all maths is there).

#include "fix_vacf.h"

#include "fix_common.h"
#include "msd_correlator.h"    // write_file_atomic

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "group.h"
#include "update.h"

#include <algorithm>
#include <numeric>

using namespace LAMMPS_NS;

static const char *const STYLE = "fix vacf";
static constexpr long long MAX_BLOCK = 16384;    // 4 x 16384 doubles per atom: the per-atom limit

FixVACF::FixVACF(LAMMPS *lmp, int narg, char **arg) :
    FixSampled(lmp, narg, arg, STYLE), natoms_group(-1), step_first(-1), step_last(-1), dt_first(0.0),
    table_nsamples(-1)
{
  ionsitu::ArgReader args(lmp, STYLE, narg, arg);
  nevery = (int) args.positive_int(3, "Nevery");
  int block = 100;
  std::vector<int> seen_type(atom->ntypes + 1, 0);

  int iarg = 4;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "block") {
      block = (int) args.int_value(iarg, 2, MAX_BLOCK);
      iarg += 2;
    } else if (key == "types") {
      ++iarg;
      while (iarg < narg && utils::is_integer(arg[iarg])) {
        const int t = (int) args.integer(arg[iarg], "types: atom type", 1, atom->ntypes);
        if (seen_type[t]++) error->all(FLERR, "{}: types: atom type {} given twice", STYLE, t);
        species_types.push_back(t);
        ++iarg;
      }
      if (species_types.empty())
        error->all(FLERR, "{}: types needs one or more atom types, got '{}'", STYLE,
                   iarg < narg ? arg[iarg] : "nothing");
    } else if (key == "atoms") {
      atoms_filename = args.value(iarg);
      iarg += 2;
    } else if (!parse_output_keyword(args, arg, iarg, filename)) {
      error->all(FLERR, "{}: unknown keyword '{}'", STYLE, key);
    }
  }
  if (output_every % nevery != 0)
    error->all(FLERR, "{}: every {} is not a multiple of Nevery {}", STYLE, output_every, nevery);
  if (output_every > 0 && filename.empty() && atoms_filename.empty())
    error->all(FLERR, "{}: every {} needs a file to write to (keyword file or atoms)", STYLE, output_every);
  if (!filename.empty() && filename == atoms_filename)
    error->all(FLERR, "{}: file and atoms are both {}; give each its own path", STYLE, filename);
  if (group->dynamic[igroup])
    error->all(FLERR, "{}: group {} is dynamic; atoms must not enter or leave the group", STYLE,
               group->names[igroup]);

  check_peratom_size(4.0 * block, "block");
  corr = std::make_unique<ionsitu::VacfCorrelator>(block, (int) species_types.size());
  species_of_type.assign(atom->ntypes + 1, -1);
  for (size_t a = 0; a < species_types.size(); ++a) species_of_type[species_types[a]] = (int) a;
  species_counts.assign(species_types.size(), 0);

  array_flag = 1;
  size_array_rows = corr->nlags();
  size_array_cols = (int) corr->column_names(species_types).size();
  extarray = 0;
  global_freq = nevery;
  restart_global = 1;
  use_peratom_state(corr->peratom_doubles(), "block");
}

std::vector<std::string> FixVACF::output_paths() const
{
  std::vector<std::string> out;
  if (!filename.empty()) out.push_back(filename);
  if (!atoms_filename.empty()) out.push_back(atoms_filename);
  return out;
}

FixSampled::Arguments FixVACF::restart_arguments() const
{
  std::string types;
  for (size_t a = 0; a < species_types.size(); ++a) types += fmt::format("{}{}", a ? " " : "", species_types[a]);
  return {{"block", std::to_string(corr->block())},
          {"types", types.empty() ? "(none)" : types},
          {"timestep", fmt::format("{}", dt_sampled >= 0.0 ? dt_sampled : update->dt)}};
}

void FixVACF::sample()
{
  const bigint step = update->ntimestep;
  if (step == step_last) return;
  check_sample_step(step, step_last);

  double **v = atom->v;
  int *mask = atom->mask;
  int *type = atom->type;
  const int nlocal = atom->nlocal;
  const int nspecies = corr->nspecies();

  std::vector<double> local(1 + nspecies, 0.0), global(1 + nspecies);
  for (int i = 0; i < nlocal; ++i)
    if (mask[i] & groupbit) {
      local[0] += 1.0;
      const int s = species_of_type[type[i]];
      if (s >= 0) local[1 + s] += 1.0;
    }
  {
    SyncTimer sync(this);
    MPI_Allreduce(local.data(), global.data(), (int) local.size(), MPI_DOUBLE, MPI_SUM, world);
  }
  const auto count = (bigint) global[0];
  std::vector<bigint> counts(nspecies);
  for (int s = 0; s < nspecies; ++s) counts[s] = (bigint) global[1 + s];
  if (natoms_group < 0) {
    if (count == 0) error->all(FLERR, "{}: group {} is empty", STYLE, group->names[igroup]);
    for (int s = 0; s < nspecies; ++s)
      if (counts[s] == 0)
        error->all(FLERR, "{}: types: atom type {} has no atoms in group {}", STYLE, species_types[s],
                   group->names[igroup]);
    natoms_group = count;
    species_counts = counts;
    step_first = step;
    dt_first = update->dt;
  } else if (count != natoms_group || counts != species_counts) {
    error->all(FLERR,
               "{}: group {} had {} atoms at the first sample and has {} at step {} (or an atom "
               "changed type); atoms must not enter or leave the group (or be lost)",
               STYLE, group->names[igroup], natoms_group, count, step);
  }

  corr->begin_sample();
  for (int i = 0; i < nlocal; ++i)
    if (mask[i] & groupbit) corr->add_atom(peratom[i], v[i], species_of_type[type[i]]);
  corr->end_sample();
  step_last = step;
}

// Reduce the rank-local sums and refresh the result table (collective call).
void FixVACF::reduce_table()
{
  if (table_nsamples == corr->nsamples()) return;
  const std::vector<double> &sums = corr->sums();
  std::vector<double> total(sums.size());
  MPI_Allreduce(sums.data(), total.data(), (int) sums.size(), MPI_DOUBLE, MPI_SUM, world);
  corr->fill_table(total, natoms_group, species_counts, nevery, dt_first, table);
  table_nsamples = corr->nsamples();
}

double FixVACF::compute_array(int i, int j)
{
  reduce_table();
  return table[(size_t) i * size_array_cols + j];
}

std::string FixVACF::meta_json() const
{
  using ionsitu::json_string;
  std::string types, counts;
  for (size_t a = 0; a < species_types.size(); ++a) {
    const char *sep = a ? ", " : "";
    types += sep + std::to_string(species_types[a]);
    counts += sep + std::to_string(species_counts[a]);
  }
  return fmt::format(
      "{{\"format\": \"ionsitu-vacf\", \"version\": 1, \"producer\": \"fix vacf\", \"fix_id\": {}, "
      "\"group\": {}, \"natoms\": {}, \"nevery\": {}, \"block\": {}, \"dt\": {:.17g}, \"units\": {}, "
      "\"types\": [{}], \"species_counts\": [{}], \"nsamples\": {}, \"step_first\": {}, \"step_last\": {}}}",
      json_string(id), json_string(group->names[igroup]), natoms_group, nevery, corr->block(), dt_first,
      json_string(update->unit_style), types, counts, corr->nsamples(), step_first, step_last);
}

// Per-atom VACFs of the group, gathered on rank 0 and sorted by atom ID (collective call).
std::string FixVACF::atoms_text()
{
  const int m = corr->block();
  const int width = 2 + m;
  std::vector<double> mine;
  for (int i = 0; i < atom->nlocal; ++i) {
    if (!(atom->mask[i] & groupbit)) continue;
    mine.push_back((double) atom->tag[i]);
    mine.push_back((double) atom->type[i]);
    mine.resize(mine.size() + m);
    corr->atom_vacf(peratom[i], &mine[mine.size() - m]);
  }
  int n = (int) mine.size();
  std::vector<int> sizes(comm->nprocs), offsets(comm->nprocs, 0);
  MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, world);
  std::vector<double> all;
  if (comm->me == 0) {
    std::partial_sum(sizes.begin(), sizes.end() - 1, offsets.begin() + 1);
    all.resize((size_t) offsets.back() + sizes.back());
  }
  MPI_Gatherv(mine.data(), n, MPI_DOUBLE, all.data(), sizes.data(), offsets.data(), MPI_DOUBLE, 0, world);
  if (comm->me != 0) return {};
  const size_t rows = all.size() / width;
  std::vector<size_t> order(rows);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return all[a * width] < all[b * width]; });
  std::vector<double> sorted;
  sorted.reserve(all.size());
  for (size_t r : order) sorted.insert(sorted.end(), all.begin() + r * width, all.begin() + (r + 1) * width);
  std::vector<std::string> names = {"id", "type"};
  for (int k = 0; k < m; ++k) names.push_back("vacf_" + std::to_string(k));
  return ionsitu::format_tagged_table("ionsitu-vacf-atoms", 1, meta_json(), names, sorted);
}

void FixVACF::write_output()
{
  if (corr->nsamples() == 0 || !has_output()) return;
  reduce_table();
  const std::string atoms = atoms_filename.empty() ? std::string() : atoms_text();
  write_files([&] {
    if (!filename.empty())
      ionsitu::write_file_atomic(filename, ionsitu::format_tagged_table("ionsitu-vacf", 1, meta_json(),
                                                                        corr->column_names(species_types), table));
    if (!atoms_filename.empty()) ionsitu::write_file_atomic(atoms_filename, atoms);
  });
}

/* ---------------- restart: global record = fix fields + correlator ---------------- */

void FixVACF::write_restart(FILE *fp)
{
  const std::vector<double> &sums = corr->sums();
  std::vector<double> total(sums.size());
  MPI_Allreduce(sums.data(), total.data(), (int) sums.size(), MPI_DOUBLE, MPI_SUM, world);
  write_group_record(fp, {natoms_group, step_first, step_last, dt_first, species_counts}, corr->serialize(total));
}

void FixVACF::restart(char *raw)
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

double FixVACF::memory_usage()
{
  return peratom_bytes() + sizeof(double) * (corr->sums().size() + table.size());
}
