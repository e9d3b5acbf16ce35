// ionsitu core: hop (jump) detection (site-based as in de Klerk et al., ACS Appl. Energy Mater. 1 (2018) 3230);
// docs/fix_hop_events.md.
//
// Two modes.
//
// Site-based (HopDetector::site_based(r_in, r_out, min_residence)):
//   Sites are fixed points in fractional coordinates of the (triclinic, possibly changing)
//   box; their Cartesian positions follow the current box every sample. Per sample and ion:
//   1. hysteresis assignment: an ion assigned to site A stays assigned while its minimum-
//      image distance to A is <= r_out; otherwise (or when unassigned) it is assigned to the
//      nearest site within r_in, or to none ("in transit").
//   2. confirmation: the ion's confirmed site ("current site") changes only after it has been
//      assigned to the same new site for min_residence consecutive samples. The hop is then
//      recorded back-dated to the first of those samples (the arrival sample). A sample that
//      is in transit or assigned to another site restarts the count; a return to the current
//      site cancels it (an excursion that returns is not a hop). Rattling between r_in and
//      r_out never changes the assignment.
//   The first sample of an ion (init_atom_state) confirms the site it is within r_in of,
//   with flag kCensored (its arrival time is unknown); an ion inside no site gets its first
//   confirmed site without an event.
//   Displacement of a hop = minimum image of (site_to - site_from) in the box of the
//   confirmation sample: the real vector travelled between the site centres, exact as long
//   as a single hop is shorter than half the smallest cell width (checked for r_out; a hop
//   between neighbouring sites is always much shorter).
//
// Site-free (HopDetector::site_free(threshold, window, min_residence)), for glasses:
//   Positions are first made continuous per ion (x_c = x_prev + minimum image(x - x_prev), so
//   wrapped coordinates work). The centre of vibration is an exponential moving average
//   c <- c + alpha (x_c - c) with alpha = 2/(window+1): O(1) memory (3 doubles) in the per-
//   atom slot, updated every sample, and with the same mean lag ((W-1)/2 samples) and about
//   the same noise reduction as a boxcar mean over W samples, without storing W positions
//   (a boxcar needs a W-sample ring buffer per ion; a block mean only decides every W
//   samples and depends on the block phase). The anchored centre of the current site is
//   the cumulative mean of the raw positions while the ion is resident there (samples with
//   both the EMA centre and the raw position within threshold of the anchor). A hop starts
//   when |c - anchor| > threshold (arrival sample); it is confirmed when that holds for
//   min_residence consecutive samples; falling back within threshold cancels it. On
//   confirmation: from = old anchor, to = mean raw position over the candidate samples,
//   displacement = to - from in continuous coordinates (the real vector, any length), the
//   new anchor = to. The EMA delays the arrival sample by up to ~window samples after the
//   real jump: choose window much smaller than the residence times of interest.
//   from_site = to_site = -1; from_x, to_x are the centres wrapped into the current box.
//
// Per-atom state lives OUTSIDE the class in a fixed-size slot of peratom_doubles() doubles
// per atom (the LAMMPS fix migrates it with the atom and writes it to per-atom restart
// data; the offline binding keeps one slot per atom). A zero-filled slot is "not yet
// initialised": add_sample()/update_atom() initialise it at the atom's first sample. Slot
// layouts: see the Slot* enums below. All steps are stored as doubles (exact to 2^53).
//
// Events are appended rank-locally to events(); gather them with serialize_events()
// (HopEvent::kDoubles doubles each) and sort with sort_events() (key step, then atom id) so
// the result does not depend on the number of ranks. Counters: nhops() (rank-local, summed
// by merge); distinct ions that hopped = number of atoms whose slot has nhops > 0
// (count_hopped(), then a global sum over ranks).
//
// No LAMMPS, no MPI, C++17. Errors throw std::invalid_argument / std::runtime_error with a
// message naming the offending value (the fix turns them into error->all).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "box_geometry.h"
#include "cell_list.h"

namespace ionsitu {

struct HopEvent {
  std::int64_t step = 0;        // MD step of arrival at the destination (back-dated)
  std::int64_t atom_id = 0;     // atom tag
  int from_site = -1;           // site index (site mode), -1 in site-free mode
  int to_site = -1;
  double from_x[3] = {0, 0, 0};  // Cartesian origin: site centre / anchored centre (wrapped)
  double to_x[3] = {0, 0, 0};    // Cartesian destination: site centre / new centre (wrapped)
  double disp[3] = {0, 0, 0};    // displacement vector travelled (unwrapped, see header)
  std::int64_t origin_arrival_step = 0;  // step the ion arrived on the origin site
  std::int64_t origin_last_step = 0;     // last sample step the ion was still on the origin
  int flags = 0;                         // kCensored: origin arrival unknown (first sample)

  static constexpr int kCensored = 1;
  // Serialisation: 16 doubles in this order:
  //   0 step, 1 atom_id, 2 from_site, 3 to_site, 4-6 from_x, 7-9 to_x, 10-12 disp,
  //   13 origin_arrival_step, 14 origin_last_step, 15 flags.
  // Derived: residence on origin = step - origin_arrival_step (arrival to arrival, steps);
  //          hop duration = step - origin_last_step (steps).
  static constexpr int kDoubles = 16;
  void to_doubles(double *out) const;
  static HopEvent from_doubles(const double *in);
};

// Sort key (step, atom_id): identical order for any number of MPI ranks.
bool event_less(const HopEvent &a, const HopEvent &b);
void sort_events(std::vector<HopEvent> &events);
std::vector<double> serialize_events(const std::vector<HopEvent> &events);
std::vector<HopEvent> deserialize_events(const double *data, std::size_t n);  // n % 16 == 0

class HopDetector {
 public:
  enum class Mode { Sites = 0, SiteFree = 1 };

  // Per-atom slot layout, site-based mode (kSiteSlotSize doubles).
  static constexpr int kInit = 0;        // 1 once initialised (0 in a fresh zero-filled slot)
  static constexpr int kNHops = 1;       // hops this atom made (> 0: "has hopped")
  static constexpr int kCur = 2;         // confirmed site, -1 none
  static constexpr int kCurArrival = 3;  // step of arrival on kCur
  static constexpr int kCurLast = 4;     // last sample step assigned to kCur
  static constexpr int kFlags = 5;       // HopEvent::kCensored if the arrival on kCur is unknown
  static constexpr int kAsg = 6;         // hysteresis assignment, -1 in transit
  static constexpr int kCand = 7;        // candidate destination, -1 none
  static constexpr int kCandArrival = 8; // step of arrival on kCand
  static constexpr int kCandCount = 9;   // consecutive samples on kCand
  static constexpr int kSiteSlotSize = 10;
  // Per-atom slot layout, site-free mode (kFreeSlotSize doubles). kInit, kNHops as above.
  static constexpr int kCentre = 2;         // 2-4: EMA centre of vibration (continuous coordinates)
  static constexpr int kAnchor = 5;         // 5-7: anchored centre (continuous coordinates)
  static constexpr int kAnchorN = 8;        // samples in the anchor mean
  static constexpr int kAnchorArrival = 9;  // step of arrival on the anchored site
  static constexpr int kAnchorLast = 10;    // last sample step resident there
  static constexpr int kFreeFlags = 11;     // HopEvent::kCensored
  static constexpr int kFreeCandCount = 12; // consecutive samples beyond threshold (0: no candidate)
  static constexpr int kFreeCandArrival = 13;
  static constexpr int kCandSum = 14;       // 14-16: sum of raw continuous positions during the candidacy
  static constexpr int kPrev = 17;          // 17-19: previous raw position (continuous coordinates)
  static constexpr int kFreeSlotSize = 20;


  static HopDetector site_based(double r_in, double r_out, int min_residence);
  static HopDetector site_free(double threshold, int window, int min_residence);

  Mode mode() const { return mode_; }
  double r_in() const { return r_in_; }
  double r_out() const { return r_out_; }
  int min_residence() const { return min_res_; }
  double threshold() const { return threshold_; }
  int window() const { return window_; }

  // Sites (site mode). Fractional positions s[3*i..] (any image; wrapped into [0,1)), or
  // Cartesian positions converted with the given box (then fixed in fractional coordinates).
  void set_sites_fractional(int n, const double *s);
  void set_sites_cartesian(int n, const double *x, const Box &box);
  // Nearest site within r of Cartesian point x in box; -1 if none (what site assignment
  // uses). brute = true scans every site instead of the cell list (same result).
  int nearest_site_of(const Box &box, const double x[3], double r, bool brute = false) const;
  int nsites() const { return static_cast<int>(sites_.size() / 3); }
  const std::vector<double> &sites_fractional() const { return sites_; }
  void site_cartesian(int i, const Box &box, double x[3]) const;

  int peratom_doubles() const { return mode_ == Mode::Sites ? kSiteSlotSize : kFreeSlotSize; }

  // First sample of an atom: fills its slot (see the header comment).
  void init_atom_state(double *state, const double x[3], const Box &box, std::int64_t step) const;
  // One sample of one atom at position x (Cartesian, any image). Initialises a zero slot.
  // Appends an event when a hop is confirmed.
  void update_atom(const Box &box, const double x[3], std::int64_t atom_id, double *state, std::int64_t step);
  // One sample of n atoms: x[3*i..], ids[i] (nullptr: ids are 0..n-1), states + i*peratom_doubles(),
  // active[i] != 0 to process atom i (nullptr: all). Checks the box once (check_box).
  void add_sample(const Box &box, int n, const double *x, const std::int64_t *ids, double *states,
                  std::int64_t step, const int *active = nullptr);
  // Throws std::runtime_error if r_out (site mode) or threshold (site-free) is not below half
  // the smallest cell width of box (minimum image would be ambiguous), or if no sites are set.
  void check_box(const Box &box) const;

  // Rank-local events and counters.
  const std::vector<HopEvent> &events() const { return events_; }
  std::vector<HopEvent> take_events();  // returns and clears the event list
  void clear_events() { events_.clear(); }
  double nhops() const { return nhops_; }

  // Per-atom helpers (for the fix's per-atom output and reductions).
  static double atom_nhops(const double *state) { return state[kNHops]; }
  int atom_site(const double *state) const { return mode_ == Mode::Sites ? static_cast<int>(state[kCur]) : -1; }
  // Earliest arrival step of a pending candidate (a hop begun, not yet confirmed) among n
  // slots; +infinity if none. Every event confirmed later has a step >= this value (minimum
  // over all ranks) or after the latest sample: events before it are final.
  double pending_arrival(int n, const double *states) const;
  // Number of atoms among n slots with nhops > 0 (sum it over ranks: distinct ions that hopped).
  double count_hopped(int n, const double *states) const;

  // Sum of partial results: nhops added, events appended (then call sort_events on the result
  // if order matters). Throws std::invalid_argument if the modes differ.
  void merge(const HopDetector &other);

  // Global state for restarts: [version, mode, nsites, nhops, nevents, events (16 each)].
  // Parameters and sites come from the input on restart and are not stored; deserialize()
  // checks mode and nsites and throws std::invalid_argument if they differ.
  std::vector<double> serialize() const;
  void deserialize(const double *data, std::size_t n);
  static constexpr int kSerialVersion = 1;

  // Default: an empty site-based detector with no sites; assign from a factory above.
  HopDetector() = default;

 private:
  void update_site(const Box &box, const double x[3], std::int64_t id, double *st, std::int64_t step);
  void update_free(const Box &box, const double x[3], std::int64_t id, double *st, std::int64_t step);
  // Nearest site within r of fractional point s (wrapped or not); -1 if none; ties: the
  // lower index. Searches the sites' cell list (O(1) per call); nearest_site_brute() scans
  // every site (the reference the tests compare with).
  int nearest_site(const Box &box, const double s[3], double r) const;
  int nearest_site_brute(const Box &box, const double s[3], double r) const;
  double site_distance(const Box &box, const double s[3], int site) const;
  // Cell list of the sites (built at the first search, cells >= r_in wide in that box) and
  // the search reach of the last box seen (recomputed when the box or radius changes).
  const CellList::Reach &site_reach(const Box &box, double r) const;

  Mode mode_ = Mode::Sites;
  double r_in_ = 0.0, r_out_ = 0.0, threshold_ = 0.0;
  int window_ = 1, min_res_ = 1;
  std::vector<double> sites_;  // fractional, 3 per site, wrapped into [0,1)
  mutable CellList site_cells_;
  mutable CellList::Reach reach_;
  mutable Box reach_box_;
  mutable double reach_r_ = -1.0;
  std::vector<HopEvent> events_;
  double nhops_ = 0.0;
};

// Site file (format "ionsitu-sites 1", written by python ionsitu.sites.write_sites; the
// format is specified in python/ionsitu/sites.py). Fractional coordinates are authoritative;
// the Cartesian columns and the cell are informational (the cell the sites were found in).
struct SiteFile {
  int version = 1;
  std::string units;                 // as written ("" if absent)
  double cell[9] = {0};              // rows a, b, c (Cartesian)
  double origin[3] = {0, 0, 0};
  std::vector<double> frac;          // 3 per site
  std::vector<double> cart;          // 3 per site
};
// Throws std::runtime_error naming the file and line on any format error.
SiteFile read_site_file(const std::string &path);

}  // namespace ionsitu
