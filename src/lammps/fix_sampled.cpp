// ionsitu: sampling schedule, output schedule and migrating per-atom state of the fixes.

#include "fix_sampled.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "group.h"
#include "memory.h"
#include "modify.h"
#include "update.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>

using namespace LAMMPS_NS;
using namespace FixConst;

FixSampled::FixSampled(LAMMPS *lmp, int narg, char **arg, const char *style) :
    Fix(lmp, narg, arg), style(style), output_every(0), peratom(nullptr), nper(0), dt_sampled(-1.0),
    nmax_peratom(0), timing(false), time_sync_cpu(0.0), time_sync_wall(0.0)
{
}

namespace {

// Limits of the per-atom state (stated in the docs and the README's fix tables).
constexpr double MAX_PERATOM_DOUBLES = 65536;                       // 512 KiB per atom
constexpr double MAX_PERATOM_BYTES_PER_RANK = 8.0 * (1ull << 30);   // 8 GiB per rank on average

constexpr char RECORD_MAGIC[8] = {'I', 'O', 'N', 'S', 'A', 'R', 'G', '1'};

std::string absolute_path(const std::string &p)
{
  std::error_code ec;
  std::filesystem::path a = std::filesystem::weakly_canonical(std::filesystem::absolute(p, ec), ec);
  return ec ? p : a.lexically_normal().string();
}

// CPU seconds of the calling thread (not the process: LAMMPS may run OpenMP threads)
double thread_cpu_seconds()
{
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

// splitmix64: mixes an atom ID into a 64-bit value; the sum over a group identifies it
uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}    // namespace

FixSampled::~FixSampled()
{
  if (nper > 0 && modify->get_fix_by_id(id)) {    // not when LAMMPS is being torn down
    atom->delete_callback(id, Atom::GROW);
    atom->delete_callback(id, Atom::RESTART);
  }
  memory->destroy(peratom);
}

int FixSampled::setmask()
{
  return END_OF_STEP;
}

void FixSampled::init()
{
  identity = group_identity();

  const std::vector<std::string> mine = output_paths();
  for (Fix *f : modify->get_fix_list()) {
    auto *other = dynamic_cast<FixSampled *>(f);
    if (!other || other == this) continue;
    for (const std::string &a : mine)
      for (const std::string &b : other->output_paths())
        if (absolute_path(a) == absolute_path(b))
          error->all(FLERR, "{} {} and {} {} both write {}; give each fix its own file", style, id,
                     other->style, other->id, a);
  }

  // probe every output path now, not at the first write after the run
  std::string problem;
  if (comm->me == 0) {
    for (const std::string &p : mine) {
      std::error_code ec;
      if (std::filesystem::is_directory(p, ec)) {
        problem = "output file " + p + " is a directory";
        break;
      }
      const std::string tmp = p + ".tmp";
      FILE *fp = std::fopen(tmp.c_str(), "w");
      if (!fp) {
        problem = "cannot open " + tmp + " for writing (" + std::strerror(errno) + ")";
        break;
      }
      std::fclose(fp);
      std::remove(tmp.c_str());
    }
  }
  int n = (int) problem.size();
  MPI_Bcast(&n, 1, MPI_INT, 0, world);
  if (n > 0) {
    problem.resize(n);
    MPI_Bcast(&problem[0], n, MPI_CHAR, 0, world);
    error->all(FLERR, "{} {}: {} (checked before the run)", style, id, problem);
  }
}

void FixSampled::setup(int)
{
  if (update->ntimestep % nevery == 0) sample();
  // the run's timing starts after the setup sample (and its collectives)
  time_sample = time_output = time_final = PhaseTime();
  time_sync_cpu = time_sync_wall = 0.0;
}

template <class F> void FixSampled::timed(PhaseTime &t, F &&work)
{
  if (!timing) {
    work();
    return;
  }
  const double cpu0 = thread_cpu_seconds(), wall0 = MPI_Wtime();
  work();
  t.wall += MPI_Wtime() - wall0;
  t.cpu += thread_cpu_seconds() - cpu0;
  ++t.count;
}

void FixSampled::end_of_step()
{
  timed(time_sample, [this] { sample(); });
  if (output_every > 0 && update->ntimestep % output_every == 0) timed(time_output, [this] { write_output(); });
}

void FixSampled::post_run()
{
  if (has_output()) timed(time_final, [this] { write_output(); });
  if (timing) print_timing();
}

FixSampled::SyncTimer::SyncTimer(FixSampled *fix) :
    fix(fix), cpu0(fix->timing ? thread_cpu_seconds() : 0.0), wall0(fix->timing ? MPI_Wtime() : 0.0)
{
}

FixSampled::SyncTimer::~SyncTimer()
{
  if (!fix->timing) return;
  fix->time_sync_wall += MPI_Wtime() - wall0;
  fix->time_sync_cpu += thread_cpu_seconds() - cpu0;
}

int FixSampled::modify_param(int narg, char **arg)
{
  if (strcmp(arg[0], "timing") != 0) return 0;
  if (narg < 2) error->all(FLERR, "Illegal fix_modify {} timing command: expected yes or no", id);
  timing = utils::logical(FLERR, arg[1], false, lmp);
  return 2;
}

// One line per run, after LAMMPS's "Loop time" line, for people and for bench/bench_suite.py:
// seconds of this fix in the run, mean over ranks and (max) the slowest rank.
void FixSampled::print_timing()
{
  constexpr int N = 8;
  const double mine[N] = {time_sample.cpu,  time_sample.wall, time_sync_cpu,  time_sync_wall,
                          time_output.cpu,  time_output.wall, time_final.cpu, time_final.wall};
  double sum[N], max[N];
  MPI_Reduce(mine, sum, N, MPI_DOUBLE, MPI_SUM, 0, world);
  MPI_Reduce(mine, max, N, MPI_DOUBLE, MPI_MAX, 0, world);
  if (comm->me != 0) return;
  const double p = comm->nprocs;
  utils::logmesg(lmp,
                 "ionsitu timing {} {} ({} ranks, seconds: mean over ranks / slowest rank): {} samples "
                 "cpu {:.6f} / {:.6f} wall {:.6f} / {:.6f}, in collectives cpu {:.6f} / {:.6f} wall "
                 "{:.6f} / {:.6f}; {} outputs cpu {:.6f} / {:.6f} wall {:.6f} / {:.6f}; end-of-run output "
                 "cpu {:.6f} / {:.6f} wall {:.6f} / {:.6f}\n",
                 style, id, comm->nprocs, time_sample.count, sum[0] / p, max[0], sum[1] / p, max[1],
                 sum[2] / p, max[2], sum[3] / p, max[3], time_output.count, sum[4] / p, max[4],
                 sum[5] / p, max[5], sum[6] / p, max[6], sum[7] / p, max[7]);
}

void FixSampled::check_peratom_size(double n, const char *what) const
{
  if (n > MAX_PERATOM_DOUBLES)
    error->all(FLERR, "{}: {} need {:.0f} values ({:.0f} KiB) of state per atom; the limit is {:.0f} "
               "values ({:.0f} KiB) per atom", style, what, n, n * 8 / 1024, MAX_PERATOM_DOUBLES,
               MAX_PERATOM_DOUBLES * 8 / 1024);
  const double per_rank = n * sizeof(double) * (double) atom->natoms / comm->nprocs;
  if (per_rank > MAX_PERATOM_BYTES_PER_RANK)
    error->all(FLERR, "{}: {} need {:.4g} GiB of per-atom state per MPI rank for {} atoms on {} "
               "ranks; the limit is {:.0f} GiB per rank", style, what, per_rank / (1ull << 30),
               atom->natoms, comm->nprocs, MAX_PERATOM_BYTES_PER_RANK / (1ull << 30));
}

void FixSampled::use_peratom_state(int n, const char *what)
{
  check_peratom_size(n, what);
  nper = n;
  maxexchange = n;      // values pack_exchange adds per atom: LAMMPS sizes the exchange buffers by it
  restart_peratom = 1;
  grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  atom->add_callback(Atom::RESTART);
}

bool FixSampled::parse_output_keyword(const ionsitu::ArgReader &args, char **arg, int &iarg,
                                      std::string &path)
{
  const std::string key = arg[iarg];
  if (key == "file")
    path = args.value(iarg);
  else if (key == "every")
    output_every = args.int_value(iarg, 0);
  else
    return false;
  iarg += 2;
  return true;
}

void FixSampled::check_output(const std::string &path)
{
  if (output_every % nevery != 0)
    error->all(FLERR, "{}: every {} is not a multiple of Nevery {}", style, output_every, nevery);
  if (output_every > 0 && path.empty())
    error->all(FLERR, "{}: every {} needs a file to write to (keyword file)", style, output_every);
}

void FixSampled::check_sample_step(bigint step, bigint step_last)
{
  if (step_last >= 0 && step != step_last + nevery)
    error->all(FLERR,
               "{}: sample at step {} does not follow the previous one (step {}) by Nevery = {}; "
               "samples must stay equally spaced while the fix is defined (no reset_timestep or "
               "runs that skip steps)",
               style, step, step_last, nevery);
  if (dt_sampled >= 0.0 && update->dt != dt_sampled)
    error->all(FLERR, "{}: the timestep changed from {} to {} while the fix accumulates", style,
               dt_sampled, update->dt);
  dt_sampled = update->dt;
}

/* ---------------- restart records with an argument header ---------------- */

FixSampled::Arguments FixSampled::group_identity()
{
  std::vector<std::string> names = {group->names[igroup]};
  names.insert(names.end(), identity_groups.begin(), identity_groups.end());
  Arguments out;
  for (size_t g = 0; g < names.size(); ++g) {
    const std::string label = g == 0 ? "group" : "group " + names[g];
    const int ig = group->find(names[g]);
    uint64_t local[2] = {0, 0}, total[2] = {0, 0};
    if (ig >= 0) {
      const int bit = group->bitmask[ig];
      for (int i = 0; i < atom->nlocal; ++i)
        if (atom->mask[i] & bit) {
          ++local[0];
          local[1] += mix((uint64_t) atom->tag[i]);
        }
    }
    MPI_Allreduce(local, total, 2, MPI_UINT64_T, MPI_SUM, world);    // the sum wraps: order-free
    if (g == 0) out.emplace_back("group", names[g]);
    out.emplace_back(label + " atoms", ig >= 0 ? std::to_string(total[0]) : "(no such group)");
    out.emplace_back(label + " atom-ID checksum", fmt::format("{:016x}", total[1]));
  }
  return out;
}

FixSampled::Arguments FixSampled::header_arguments(const Arguments &groups) const
{
  Arguments out = {{"Nevery", std::to_string(nevery)}};
  out.insert(out.end(), groups.begin(), groups.end());
  const Arguments more = restart_arguments();
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

void FixSampled::write_restart_record(FILE *fp, const std::vector<double> &values)
{
  if (comm->me != 0 || !fp) return;
  std::string header;
  for (const auto &kv : header_arguments(identity)) header += kv.first + '\t' + kv.second + '\n';
  const uint64_t len = header.size();
  header.append((8 - len % 8) % 8, '\0');
  const double count = (double) values.size();
  const int nbytes = (int) (sizeof RECORD_MAGIC + sizeof len + header.size() + (values.size() + 1) * sizeof(double));
  std::fwrite(&nbytes, sizeof(int), 1, fp);
  std::fwrite(RECORD_MAGIC, 1, sizeof RECORD_MAGIC, fp);
  std::fwrite(&len, sizeof len, 1, fp);
  std::fwrite(header.data(), 1, header.size(), fp);
  std::fwrite(&count, sizeof(double), 1, fp);
  std::fwrite(values.data(), sizeof(double), values.size(), fp);
}

std::vector<double> FixSampled::read_restart_record(const char *raw)
{
  if (std::memcmp(raw, RECORD_MAGIC, sizeof RECORD_MAGIC) != 0)
    error->all(FLERR, "{} {}: the restart record has no argument header (written by an older ionsitu), "
               "so it cannot be checked against the fix's arguments; define the fix with a new ID to "
               "start afresh", style, id);
  uint64_t len = 0;
  std::memcpy(&len, raw + sizeof RECORD_MAGIC, sizeof len);
  const char *text = raw + sizeof RECORD_MAGIC + sizeof len;
  std::map<std::string, std::string> stored;
  Arguments stored_order;
  for (size_t pos = 0; pos < len;) {
    size_t eol = pos;
    while (eol < len && text[eol] != '\n') ++eol;
    const std::string line(text + pos, eol - pos);
    const size_t tab = line.find('\t');
    if (tab != std::string::npos) {
      stored[line.substr(0, tab)] = line.substr(tab + 1);
      stored_order.emplace_back(line.substr(0, tab), line.substr(tab + 1));
    }
    pos = eol + 1;
  }
  const Arguments now = header_arguments(group_identity());
  std::map<std::string, std::string> current(now.begin(), now.end());
  std::string changes;
  auto note = [&](const std::string &key, const std::string &was, const std::string &is) {
    changes += fmt::format("{}{} was {} when the restart file was written, now {}", changes.empty() ? "" : "; ",
                           key, was, is);
  };
  for (const auto &kv : now) {
    auto it = stored.find(kv.first);
    const std::string was = it == stored.end() ? "(not recorded)" : it->second;
    if (was != kv.second) note(kv.first, was, kv.second);
  }
  for (const auto &kv : stored_order)
    if (!current.count(kv.first)) note(kv.first, kv.second, "(not an argument)");
  if (!changes.empty())
    error->all(FLERR, "{} {}: cannot continue the statistics of the restart file: {}. Re-define the fix "
               "with the arguments it had, or with a new fix ID to start afresh", style, id, changes);
  if (stored.count("timestep")) dt_sampled = update->dt;    // equal to the stored one (checked)

  const char *rec = text + len + (8 - len % 8) % 8;
  double count = 0.0;
  std::memcpy(&count, rec, sizeof count);
  std::vector<double> values((size_t) count);
  std::memcpy(values.data(), rec + sizeof(double), values.size() * sizeof(double));
  return values;
}

void FixSampled::write_group_record(FILE *fp, const GroupFields &g, const std::vector<double> &correlator)
{
  std::vector<double> buf = {(double) g.natoms, (double) g.step_first, (double) g.step_last, g.dt_first};
  for (auto n : g.species_counts) buf.push_back((double) n);
  buf.insert(buf.end(), correlator.begin(), correlator.end());
  write_restart_record(fp, buf);
}

std::vector<double> FixSampled::read_group_record(const char *raw, const GroupFields &g)
{
  const std::vector<double> buf = read_restart_record(raw);
  const size_t nfix = 4 + g.species_counts.size();
  if (buf.size() < nfix) error->all(FLERR, "fix {} {}: restart record is too short", style, id);
  g.natoms = (bigint) buf[0];
  g.step_first = (bigint) buf[1];
  g.step_last = (bigint) buf[2];
  g.dt_first = buf[3];
  for (size_t s = 0; s < g.species_counts.size(); ++s) g.species_counts[s] = (bigint) buf[4 + s];
  return std::vector<double>(buf.begin() + nfix, buf.end());
}

void FixSampled::write_files(const std::function<void()> &write)
{
  std::string problem;
  if (comm->me == 0) {
    try {
      write();
    } catch (std::exception &e) {
      problem = e.what();
      if (problem.empty()) problem = "unknown write error";
    }
  }
  int n = (int) problem.size();
  MPI_Bcast(&n, 1, MPI_INT, 0, world);
  if (n == 0) return;
  problem.resize(n);
  MPI_Bcast(&problem[0], n, MPI_CHAR, 0, world);
  error->all(FLERR, "{} {}: {} (files are replaced atomically: earlier outputs are intact)", style, id,
             problem);
}

double FixSampled::peratom_bytes() const
{
  return (double) nmax_peratom * nper * sizeof(double);
}

void FixSampled::grow_arrays(int nmax)
{
  memory->grow(peratom, nmax, nper, "ionsitu:peratom");
  for (int i = nmax_peratom; i < nmax; ++i) std::memset(peratom[i], 0, sizeof(double) * nper);
  nmax_peratom = nmax;
}

void FixSampled::copy_arrays(int i, int j, int)
{
  std::memcpy(peratom[j], peratom[i], sizeof(double) * nper);
}

void FixSampled::set_arrays(int i)
{
  std::memset(peratom[i], 0, sizeof(double) * nper);
}

int FixSampled::pack_exchange(int i, double *buf)
{
  std::memcpy(buf, peratom[i], sizeof(double) * nper);
  return nper;
}

int FixSampled::unpack_exchange(int nlocal, double *buf)
{
  std::memcpy(peratom[nlocal], buf, sizeof(double) * nper);
  return nper;
}

int FixSampled::pack_restart(int i, double *buf)
{
  buf[0] = nper + 1;    // LAMMPS convention: first value is the record length
  std::memcpy(buf + 1, peratom[i], sizeof(double) * nper);
  return nper + 1;
}

void FixSampled::unpack_restart(int nlocal, int nth)
{
  double **extra = atom->extra;
  int m = 0;
  for (int i = 0; i < nth; ++i) m += static_cast<int>(extra[nlocal][m]);
  const int n = static_cast<int>(extra[nlocal][m]) - 1;
  if (n != nper)
    error->one(FLERR, "{} {}: per-atom restart data has {} values, expected {} (were the fix's "
               "arguments changed?)", style, id, n, nper);
  std::memcpy(peratom[nlocal], &extra[nlocal][m + 1], sizeof(double) * nper);
}

int FixSampled::size_restart(int)
{
  return nper + 1;
}

int FixSampled::maxsize_restart()
{
  return nper + 1;
}
