// ionsitu: fix hop/events.  Argument parsing, per-atom detector slots that migrate with
// atoms, gathering of the rank-local events, the event log and restart around
// ionsitu::HopDetector (all the detection logic lives there).
//
// Event bookkeeping: every rank appends the hops of its own atoms to its detector; at each
// output (and at write_restart) the events of all ranks are gathered to rank 0 and merged
// into `log` (sorted by step, atom id: the same order for any number of ranks).  Events are
// back-dated to the arrival sample, so a hop confirmed later can precede one already known;
// but no future event precedes the earliest arrival of a pending candidate on any rank
// (HopDetector::pending_arrival): events before that horizon are final.  They are appended
// to the file and committed (ionsitu::append_log_write: write, fsync, committed length);
// the later ones are written as a provisional tail that the next output replaces, so the
// file always holds every event known, sorted, and rank 0 keeps only the pending ones.  The
// header (meta line padded to a fixed size) is rewritten in place.  The restart record
// holds the pending events and the committed length and count: a restarted run truncates
// the file there at its first output, so events the earlier run wrote after write_restart
// are replaced (no duplicates) and none are lost.  Without a file no event is kept.
// Rank-local events are flushed early when more than kFlushEvents are waiting.

#include "fix_hop_events.h"

#include "fix_common.h"
#include "append_log.h"

#include "atom.h"
#include "citeme.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "group.h"
#include "memory.h"
#include "modify.h"
#include "update.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

using namespace LAMMPS_NS;

static const char *const STYLE = "fix hop/events";
// The method's paper, registered with LAMMPS's citation reminder (log;
// BibTeX with -cite FILE).
static const char cite_fix_hop_events[] =
    "fix hop/events command (site-based jump analysis): doi:10.1021/acsaem.8b00457\n\n"
    "@Article{deKlerk18,\n"
    " author = {N. J. J. de Klerk and E. van der Maas and M. Wagemaker},\n"
    " title = {Analysis of Diffusion in Solid-State Electrolytes through {MD} Simulations, Improvement of the "
    "Li-Ion Conductivity in $\\beta$-{Li$_3$PS$_4$} as an Example},\n"
    " journal = {ACS Appl.\\ Energy Mater.},\n"
    " year = 2018,\n"
    " volume = 1,\n"
    " pages = {3230--3242}\n"
    "}\n\n";
static constexpr int RESTART_VERSION = 2;
static constexpr bigint kFlushEvents = 1 << 16;    // events waiting on the ranks before an early output
// The meta line is padded by this many bytes at the file's creation: room for the 18 fields
// that change during a run (counts, steps, cell, origin; <= 24 characters each as %.17g).
static constexpr int kMetaPadding = 18 * 24 + 64;

FixHopEvents::FixHopEvents(LAMMPS *lmp, int narg, char **arg) :
    FixSampled(lmp, narg, arg, STYLE), nsamples(0),
    step_first(-1), step_last(-1), natoms_group(0), last_box{0, 0, 0, 0, 0, 0, 0, 0, 0},
    last_origin{0, 0, 0}, log_header_bytes(0), log_committed_bytes(0), log_committed_events(0),
    counters(4, 0.0), counters_nsamples(-1)
{
  if (lmp->citeme) lmp->citeme->add(cite_fix_hop_events);
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
  if (filename.empty()) det->clear_events();    // only the counters are kept
  const bigint local[2] = {count, (bigint) det->events().size()};
  bigint global[2];
  {
    SyncTimer sync(this);
    MPI_Allreduce(local, global, 2, MPI_LMP_BIGINT, MPI_SUM, world);
  }
  natoms_group = global[0];
  if (nsamples == 0 && natoms_group == 0)
    error->all(FLERR, "{}: group {} is empty", STYLE, group->names[igroup]);
  ++nsamples;
  if (step_first < 0) step_first = step;
  step_last = step;
  const double cell[9] = {box.h[0], 0.0, 0.0, box.h[5], box.h[1], 0.0, box.h[4], box.h[3], box.h[2]};
  std::copy(cell, cell + 9, last_box);
  std::copy(box.lo, box.lo + 3, last_origin);
  if (global[1] > kFlushEvents) write_output();    // bounded memory between outputs
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

double FixHopEvents::final_horizon()
{
  const double mine = det->pending_arrival(atom->nlocal, peratom ? peratom[0] : nullptr);
  double horizon = 0.0;
  MPI_Allreduce(&mine, &horizon, 1, MPI_DOUBLE, MPI_MIN, world);
  return horizon;
}

std::string FixHopEvents::log_header(double nhops, double nhopped) const
{
  const std::string meta = meta_json(nhops, nhopped);
  const std::string head = "# ionsitu-hops 1\n# meta ", cols =
      "\n# columns step atom_id from_site to_site fx fy fz tx ty tz dx dy dz origin_arrival_step "
      "origin_last_step flags\n";
  const bigint bare = (bigint) (head.size() + meta.size() + cols.size());
  const bigint size = log_header_bytes > 0 ? log_header_bytes : bare + kMetaPadding;
  if (bare > size)
    throw std::runtime_error(fmt::format("the header of {} ({} bytes) outgrew the {} bytes reserved at "
                                         "its creation (a longer site file path after a restart?)",
                                         filename, bare, size));
  return head + meta + std::string((size_t) (size - bare), ' ') + cols;    // JSON allows trailing blanks
}

static std::string event_rows(std::vector<ionsitu::HopEvent>::const_iterator a,
                              std::vector<ionsitu::HopEvent>::const_iterator b)
{
  std::string text;
  text.reserve((size_t) (b - a) * 200);
  for (; a != b; ++a)
    text += fmt::format("{} {} {} {} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} "
                        "{:.17g} {} {} {}\n",
                        a->step, a->atom_id, a->from_site, a->to_site, a->from_x[0], a->from_x[1],
                        a->from_x[2], a->to_x[0], a->to_x[1], a->to_x[2], a->disp[0], a->disp[1],
                        a->disp[2], a->origin_arrival_step, a->origin_last_step, a->flags);
  return text;
}

void FixHopEvents::write_output()
{
  if (filename.empty() || nsamples == 0) return;
  gather_events();
  const double horizon = final_horizon();
  counters_nsamples = -1;
  const double nhops = compute_vector(0), nhopped = compute_vector(1);
  const auto split = std::find_if(log.begin(), log.end(),
                                  [horizon](const ionsitu::HopEvent &e) { return (double) e.step >= horizon; });
  write_files([&] {    // rank 0 (which holds the gathered events); a write error ends every rank
    const std::string header = log_header(nhops, nhopped);
    log_committed_bytes = (bigint) ionsitu::append_log_write(
        filename, header, (std::uint64_t) log_committed_bytes, event_rows(log.begin(), split),
        event_rows(split, log.end()));
    log_header_bytes = (bigint) header.size();
    log_committed_events += (bigint) (split - log.begin());
    log.erase(log.begin(), split);
  });
}

/* ---------------- restart: fix fields + the core's record with the pending events ---------------- */

void FixHopEvents::write_restart(FILE *fp)
{
  write_output();    // commits the final events to the file (collective; no-op without a file)
  gather_events();
  double nhops = 0.0;
  const double mine = det->nhops();
  MPI_Allreduce(&mine, &nhops, 1, MPI_DOUBLE, MPI_SUM, world);
  if (comm->me != 0) return;
  std::vector<double> buf = {(double) RESTART_VERSION, (double) nsamples, (double) step_first,
                             (double) step_last, (double) natoms_group};
  buf.insert(buf.end(), last_box, last_box + 9);
  buf.insert(buf.end(), last_origin, last_origin + 3);
  buf.insert(buf.end(), {(double) log_header_bytes, (double) log_committed_bytes, (double) log_committed_events});
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
  const size_t nfix = 20;
  if (buf.size() < nfix + 5 || (int) buf[0] != RESTART_VERSION)
    error->all(FLERR, "{} {}: restart record is not a version-{} record of this fix", STYLE, id,
               RESTART_VERSION);
  nsamples = (bigint) buf[1];
  step_first = (bigint) buf[2];
  step_last = (bigint) buf[3];
  natoms_group = (bigint) buf[4];
  std::copy(buf.begin() + 5, buf.begin() + 14, last_box);
  std::copy(buf.begin() + 14, buf.begin() + 17, last_origin);
  log_header_bytes = (bigint) buf[17];
  log_committed_bytes = (bigint) buf[18];
  log_committed_events = (bigint) buf[19];
  if (filename.empty()) {
    log_header_bytes = log_committed_bytes = log_committed_events = 0;
  } else if (log_committed_bytes > 0) {    // the file must still hold what was committed
    bigint size = 0;
    if (comm->me == 0) size = (bigint) ionsitu::file_size(filename);
    MPI_Bcast(&size, 1, MPI_LMP_BIGINT, 0, world);
    if (size < log_committed_bytes)
      error->all(FLERR, "{} {}: event log {} has {} bytes, fewer than the {} bytes ({} events) committed "
                 "to it at write_restart; keep the file of the run that wrote the restart (or start a "
                 "new log with a new fix ID)", STYLE, id, filename, size < 0 ? 0 : size,
                 log_committed_bytes, log_committed_events);
  }
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
