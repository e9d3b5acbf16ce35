// ionsitu: fix hop/events.  Argument parsing, per-atom detector slots that migrate with
// atoms, gathering of the rank-local events, the event log and restart around
// ionsitu::HopDetector (all the detection logic lives there).
//
// Event bookkeeping: every rank appends the hops of its own atoms to its detector; at each
// output (and at write_restart) the events of all ranks are gathered to rank 0, merged into
// `log` (sorted by step, atom id: the same order for any number of ranks) and the whole log
// is rewritten atomically.  Events are back-dated to the arrival sample, so a hop confirmed
// later can precede one already written; rewriting keeps the file sorted.  The restart
// record holds the complete log, so a restarted run rewrites the file from exactly the
// events known at write_restart: events the earlier run wrote after that point are
// replaced (no duplicates), none are lost.

#include "fix_hop_events.h"

#include "fix_common.h"
#include "msd_correlator.h"    // ionsitu::write_file_atomic

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "group.h"
#include "memory.h"
#include "modify.h"
#include "update.h"

#include <algorithm>
#include <cmath>

using namespace LAMMPS_NS;

static const char *const STYLE = "fix hop/events";
static constexpr int RESTART_VERSION = 1;

FixHopEvents::FixHopEvents(LAMMPS *lmp, int narg, char **arg) :
    FixSampled(lmp, narg, arg, STYLE), nsamples(0),
    step_first(-1), step_last(-1), natoms_group(0), last_box{0, 0, 0, 0, 0, 0, 0, 0, 0},
    last_origin{0, 0, 0}, counters(4, 0.0), counters_nsamples(-1)
{
  ionsitu::ArgReader args(lmp, STYLE, narg, arg);
  nevery = (int) args.positive_int(3, "Nevery");
  int mode = -1;    // 0 sites, 1 free
  double r_in = 0.0, r_out = 0.0, threshold = 0.0;
  long long window = 0, residence = 1;

  auto number = [&](int i, const char *what) {
    if (i >= narg) error->all(FLERR, "{}: {} is missing", STYLE, what);
    return args.number(arg[i], what);
  };

  int iarg = 4;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "sites") {
      if (mode >= 0) error->all(FLERR, "{}: give either sites or free, once", STYLE);
      if (iarg + 3 >= narg) error->all(FLERR, "{}: sites needs 'sites file r_in r_out'", STYLE);
      site_path = arg[iarg + 1];
      r_in = number(iarg + 2, "sites r_in");
      r_out = number(iarg + 3, "sites r_out");
      mode = 0;
      iarg += 4;
    } else if (key == "free") {
      if (mode >= 0) error->all(FLERR, "{}: give either sites or free, once", STYLE);
      if (iarg + 2 >= narg) error->all(FLERR, "{}: free needs 'free threshold window'", STYLE);
      threshold = number(iarg + 1, "free threshold");
      if (!utils::is_integer(arg[iarg + 2]))
        error->all(FLERR, "{}: free window expects an integer number of samples, got '{}'", STYLE,
                   arg[iarg + 2]);
      window = args.integer(arg[iarg + 2], "free window", 1, ionsitu::MAX_SAMPLES);
      mode = 1;
      iarg += 3;
    } else if (key == "residence") {
      residence = args.int_value(iarg, 1, ionsitu::MAX_SAMPLES);
      iarg += 2;
    } else if (!parse_output_keyword(args, arg, iarg, filename)) {
      error->all(FLERR, "{}: unknown keyword '{}'", STYLE, key);
    }
  }
  if (mode < 0)
    error->all(FLERR, "{}: no detection mode: give 'sites file r_in r_out' or 'free threshold window'",
               STYLE);
  check_output(filename);
  if (group->dynamic[igroup])
    error->all(FLERR, "{}: group {} is dynamic; the tracked ions must stay in the group", STYLE,
               group->names[igroup]);

  const ionsitu::Box box = ionsitu::current_box(domain);
  try {
    if (mode == 0) {
      det = std::make_unique<ionsitu::HopDetector>(
          ionsitu::HopDetector::site_based(r_in, r_out, (int) residence));
      const ionsitu::SiteFile sf = ionsitu::read_site_file(site_path);
      if (sf.frac.empty()) throw std::runtime_error("site file " + site_path + " has no sites");
      det->set_sites_fractional((int) (sf.frac.size() / 3), sf.frac.data());
      sites_digest = ionsitu::digest(sf.frac.data(), sf.frac.size() * sizeof(double));
      // the fractional coordinates are authoritative; warn if the file's cell is far off
      const double *c = sf.cell;
      const double vfile = std::fabs(c[0] * (c[4] * c[8] - c[5] * c[7]) - c[1] * (c[3] * c[8] - c[5] * c[6]) +
                                     c[2] * (c[3] * c[7] - c[4] * c[6]));
      if (comm->me == 0 && std::fabs(vfile - box.volume()) > 0.05 * box.volume())
        error->warning(FLERR,
                       "{}: the cell of site file {} has volume {}, the box {}; sites are placed at "
                       "their fractional coordinates of the current box",
                       STYLE, site_path, vfile, box.volume());
    } else {
      det = std::make_unique<ionsitu::HopDetector>(
          ionsitu::HopDetector::site_free(threshold, (int) window, (int) residence));
    }
    det->check_box(box);
  } catch (std::exception &e) {
    error->all(FLERR, "{}: {}", STYLE, e.what());
  }

  vector_flag = 1;
  size_vector = 4;
  extvector = 0;
  global_freq = nevery;
  restart_global = 1;
  create_attribute = 1;
  use_peratom_state(det->peratom_doubles(), "the detector's slots");
}

std::vector<std::string> FixHopEvents::output_paths() const
{
  if (filename.empty()) return {};
  return {filename};
}

FixSampled::Arguments FixHopEvents::restart_arguments() const
{
  const bool sites = det->mode() == ionsitu::HopDetector::Mode::Sites;
  auto num = [](double v) { return fmt::format("{}", v); };    // shortest exact form
  Arguments a = {{"mode", sites ? "sites" : "free"}, {"residence", std::to_string(det->min_residence())}};
  if (sites)
    a.insert(a.end(), {{"sites", fmt::format("{} sites, coordinates digest {}", det->nsites(), sites_digest)},
                       {"r_in", num(det->r_in())}, {"r_out", num(det->r_out())}});
  else
    a.insert(a.end(), {{"threshold", num(det->threshold())}, {"window", std::to_string(det->window())}});
  a.emplace_back("timestep", num(dt_sampled >= 0.0 ? dt_sampled : update->dt));
  return a;
}

void FixHopEvents::sample()
{
  const bigint step = update->ntimestep;
  if (step == step_last) return;
  check_sample_step(step, step_last);
  const ionsitu::Box box = ionsitu::current_box(domain);
  try {
    det->check_box(box);
  } catch (std::exception &e) {
    error->all(FLERR, "{} at step {}: {}", STYLE, step, e.what());
  }
  double **x = atom->x;
  const int *mask = atom->mask;
  const tagint *tag = atom->tag;
  const int nlocal = atom->nlocal;
  bigint count = 0;
  for (int i = 0; i < nlocal; ++i) {
    if (!(mask[i] & groupbit)) continue;
    det->update_atom(box, x[i], (std::int64_t) tag[i], peratom[i], (std::int64_t) step);
    ++count;
  }
  MPI_Allreduce(&count, &natoms_group, 1, MPI_LMP_BIGINT, MPI_SUM, world);
  if (nsamples == 0 && natoms_group == 0)
    error->all(FLERR, "{}: group {} is empty", STYLE, group->names[igroup]);
  ++nsamples;
  if (step_first < 0) step_first = step;
  step_last = step;
  const double cell[9] = {box.h[0], 0.0, 0.0, box.h[5], box.h[1], 0.0, box.h[4], box.h[3], box.h[2]};
  std::copy(cell, cell + 9, last_box);
  std::copy(box.lo, box.lo + 3, last_origin);
}

/* ---------------- events: gather to rank 0, counters, file ---------------- */

void FixHopEvents::gather_events()
{
  const std::vector<double> mine = ionsitu::serialize_events(det->take_events());
  const int n = (int) mine.size();
  std::vector<int> counts(comm->nprocs), displs(comm->nprocs, 0);
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
  std::vector<double> all;
  if (comm->me == 0) {
    size_t total = 0;
    for (int p = 0; p < comm->nprocs; ++p) {
      displs[p] = (int) total;
      total += counts[p];
    }
    all.resize(total);
  }
  MPI_Gatherv(mine.data(), n, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0, world);
  if (comm->me != 0 || all.empty()) return;
  std::vector<ionsitu::HopEvent> fresh = ionsitu::deserialize_events(all.data(), all.size());
  ionsitu::sort_events(fresh);
  const auto mid = (std::ptrdiff_t) log.size();
  log.insert(log.end(), fresh.begin(), fresh.end());
  std::inplace_merge(log.begin(), log.begin() + mid, log.end(), ionsitu::event_less);
}

double FixHopEvents::compute_vector(int i)
{
  if (counters_nsamples != nsamples) {
    const double local[2] = {det->nhops(), det->count_hopped(atom->nlocal, peratom ? peratom[0] : nullptr)};
    double global[2];
    MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_SUM, world);
    counters = {global[0], global[1], (double) nsamples, (double) natoms_group};
    counters_nsamples = nsamples;
  }
  return counters[i];
}

std::string FixHopEvents::meta_json(double nhops, double nhopped) const
{
  using ionsitu::json_string;
  const bool sites = det->mode() == ionsitu::HopDetector::Mode::Sites;
  std::string cell;
  for (int k = 0; k < 9; ++k) cell += fmt::format("{}{:.17g}", k ? ", " : "", last_box[k]);
  return fmt::format(
      "{{\"format\": \"ionsitu-hops\", \"version\": 1, \"producer\": \"fix hop/events\", "
      "\"fix_id\": {}, \"group\": {}, \"mode\": {}, \"site_file\": {}, \"nsites\": {}, "
      "\"r_in\": {:.17g}, \"r_out\": {:.17g}, \"threshold\": {:.17g}, \"window\": {}, "
      "\"residence\": {}, \"nevery\": {}, \"dt\": {:.17g}, \"units\": {}, \"natoms\": {}, "
      "\"nsamples\": {}, \"step_first\": {}, \"step_last\": {}, \"nhops\": {:.17g}, "
      "\"nhopped\": {:.17g}, \"cell\": [{}], \"origin\": [{:.17g}, {:.17g}, {:.17g}]}}",
      json_string(id), json_string(group->names[igroup]), json_string(sites ? "sites" : "free"),
      json_string(site_path), det->nsites(), det->r_in(), det->r_out(), det->threshold(),
      sites ? 0 : det->window(), det->min_residence(), nevery, update->dt,
      json_string(update->unit_style), natoms_group, nsamples, step_first, step_last, nhops, nhopped,
      cell, last_origin[0], last_origin[1], last_origin[2]);
}

void FixHopEvents::write_output()
{
  if (filename.empty() || nsamples == 0) return;
  gather_events();
  counters_nsamples = -1;
  const double nhops = compute_vector(0), nhopped = compute_vector(1);
  write_files([&] {
    std::string text = "# ionsitu-hops 1\n# meta " + meta_json(nhops, nhopped) +
        "\n# columns step atom_id from_site to_site fx fy fz tx ty tz dx dy dz origin_arrival_step "
        "origin_last_step flags\n";
    text.reserve(text.size() + log.size() * 200);
    for (const auto &e : log)
      text += fmt::format("{} {} {} {} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} "
                          "{:.17g} {} {} {}\n",
                          e.step, e.atom_id, e.from_site, e.to_site, e.from_x[0], e.from_x[1], e.from_x[2],
                          e.to_x[0], e.to_x[1], e.to_x[2], e.disp[0], e.disp[1], e.disp[2],
                          e.origin_arrival_step, e.origin_last_step, e.flags);
    ionsitu::write_file_atomic(filename, text);
  });
}

/* ---------------- restart: fix fields + the core's record with the complete log ---------------- */

void FixHopEvents::write_restart(FILE *fp)
{
  gather_events();
  double nhops = 0.0;
  const double mine = det->nhops();
  MPI_Allreduce(&mine, &nhops, 1, MPI_DOUBLE, MPI_SUM, world);
  if (comm->me != 0) return;
  std::vector<double> buf = {(double) RESTART_VERSION, (double) nsamples, (double) step_first,
                             (double) step_last, (double) natoms_group};
  buf.insert(buf.end(), last_box, last_box + 9);
  buf.insert(buf.end(), last_origin, last_origin + 3);
  std::vector<double> rec = det->serialize();    // header only: events were taken by the gather
  rec[3] = nhops;
  rec[4] = (double) log.size();
  const std::vector<double> ev = ionsitu::serialize_events(log);
  rec.insert(rec.end(), ev.begin(), ev.end());
  buf.insert(buf.end(), rec.begin(), rec.end());
  write_restart_record(fp, buf);
}

void FixHopEvents::restart(char *raw)
{
  const std::vector<double> buf = read_restart_record(raw);
  const size_t nfix = 17;
  if (buf.size() < nfix + 5 || (int) buf[0] != RESTART_VERSION)
    error->all(FLERR, "{} {}: restart record is not a version-{} record of this fix", STYLE, id,
               RESTART_VERSION);
  nsamples = (bigint) buf[1];
  step_first = (bigint) buf[2];
  step_last = (bigint) buf[3];
  natoms_group = (bigint) buf[4];
  std::copy(buf.begin() + 5, buf.begin() + 14, last_box);
  std::copy(buf.begin() + 14, buf.begin() + 17, last_origin);
  try {
    if (comm->me == 0) {
      det->deserialize(buf.data() + nfix, buf.size() - nfix);
      log = det->take_events();
      ionsitu::sort_events(log);
    } else {    // events and the hop counter live on rank 0 only
      std::vector<double> head(buf.begin() + nfix, buf.begin() + nfix + 5);
      head[3] = 0.0;
      head[4] = 0.0;
      det->deserialize(head.data(), head.size());
    }
  } catch (std::exception &e) {
    error->all(FLERR, "{} {}: restart record does not match the fix's arguments: {}", STYLE, id,
               e.what());
  }
  counters_nsamples = -1;
}

double FixHopEvents::memory_usage()
{
  return peratom_bytes() + (double) log.size() * sizeof(ionsitu::HopEvent);
}
