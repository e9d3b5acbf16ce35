// ionsitu core: hop detection. See hop_detector.h.
#include "hop_detector.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

namespace ionsitu {

namespace {
std::string num(double v) {
  std::ostringstream o;
  o.precision(10);
  o << v;
  return o.str();
}
}  // namespace

// ---------------------------------------------------------------- events

void HopEvent::to_doubles(double *o) const {
  o[0] = static_cast<double>(step);
  o[1] = static_cast<double>(atom_id);
  o[2] = from_site;
  o[3] = to_site;
  for (int k = 0; k < 3; ++k) {
    o[4 + k] = from_x[k];
    o[7 + k] = to_x[k];
    o[10 + k] = disp[k];
  }
  o[13] = static_cast<double>(origin_arrival_step);
  o[14] = static_cast<double>(origin_last_step);
  o[15] = flags;
}

HopEvent HopEvent::from_doubles(const double *in) {
  HopEvent e;
  e.step = static_cast<std::int64_t>(std::llround(in[0]));
  e.atom_id = static_cast<std::int64_t>(std::llround(in[1]));
  e.from_site = static_cast<int>(std::lround(in[2]));
  e.to_site = static_cast<int>(std::lround(in[3]));
  for (int k = 0; k < 3; ++k) {
    e.from_x[k] = in[4 + k];
    e.to_x[k] = in[7 + k];
    e.disp[k] = in[10 + k];
  }
  e.origin_arrival_step = static_cast<std::int64_t>(std::llround(in[13]));
  e.origin_last_step = static_cast<std::int64_t>(std::llround(in[14]));
  e.flags = static_cast<int>(std::lround(in[15]));
  return e;
}

bool event_less(const HopEvent &a, const HopEvent &b) {
  if (a.step != b.step) return a.step < b.step;
  return a.atom_id < b.atom_id;
}

void sort_events(std::vector<HopEvent> &events) { std::stable_sort(events.begin(), events.end(), event_less); }

std::vector<double> serialize_events(const std::vector<HopEvent> &events) {
  std::vector<double> out(events.size() * HopEvent::kDoubles);
  for (std::size_t i = 0; i < events.size(); ++i) events[i].to_doubles(out.data() + i * HopEvent::kDoubles);
  return out;
}

std::vector<HopEvent> deserialize_events(const double *data, std::size_t n) {
  if (n % HopEvent::kDoubles != 0)
    throw std::invalid_argument("deserialize_events: size " + std::to_string(n) + " is not a multiple of " +
                                std::to_string(HopEvent::kDoubles));
  std::vector<HopEvent> out;
  out.reserve(n / HopEvent::kDoubles);
  for (std::size_t i = 0; i < n; i += HopEvent::kDoubles) out.push_back(HopEvent::from_doubles(data + i));
  return out;
}

// ---------------------------------------------------------------- construction

static void check_min_residence(int min_residence) {
  if (min_residence < 1)
    throw std::invalid_argument("HopDetector: min_residence must be >= 1 sample, got " + std::to_string(min_residence));
}

HopDetector HopDetector::site_based(double r_in, double r_out, int min_residence) {
  if (!(r_in > 0.0)) throw std::invalid_argument("HopDetector: r_in must be > 0, got " + num(r_in));
  if (!(r_out >= r_in))
    throw std::invalid_argument("HopDetector: r_out (" + num(r_out) + ") must be >= r_in (" + num(r_in) + ")");
  check_min_residence(min_residence);
  HopDetector h;
  h.mode_ = Mode::Sites;
  h.r_in_ = r_in;
  h.r_out_ = r_out;
  h.min_res_ = min_residence;
  return h;
}

HopDetector HopDetector::site_free(double threshold, int window, int min_residence) {
  if (!(threshold > 0.0)) throw std::invalid_argument("HopDetector: threshold must be > 0, got " + num(threshold));
  if (window < 1) throw std::invalid_argument("HopDetector: window must be >= 1 sample, got " + std::to_string(window));
  check_min_residence(min_residence);
  HopDetector h;
  h.mode_ = Mode::SiteFree;
  h.threshold_ = threshold;
  h.window_ = window;
  h.min_res_ = min_residence;
  return h;
}

void HopDetector::set_sites_fractional(int n, const double *s) {
  if (mode_ != Mode::Sites) throw std::invalid_argument("HopDetector: sites given to a site-free detector");
  if (n < 1) throw std::invalid_argument("HopDetector: number of sites must be >= 1, got " + std::to_string(n));
  sites_.resize(3 * static_cast<std::size_t>(n));
  for (int i = 0; i < 3 * n; ++i) {
    if (!std::isfinite(s[i]))
      throw std::invalid_argument("HopDetector: site " + std::to_string(i / 3) + " has a non-finite coordinate");
    sites_[i] = Box::wrap01(s[i]);
  }
  site_cells_ = CellList();
}

void HopDetector::set_sites_cartesian(int n, const double *x, const Box &box) {
  std::vector<double> s(3 * static_cast<std::size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i) box.to_frac(x + 3 * i, s.data() + 3 * i);
  set_sites_fractional(n, s.data());
}

void HopDetector::site_cartesian(int i, const Box &box, double x[3]) const { box.to_cart(&sites_[3 * i], x); }

void HopDetector::check_box(const Box &box) const {
  const double hw = box.min_half_width();
  if (mode_ == Mode::Sites) {
    if (sites_.empty()) throw std::runtime_error("HopDetector: no sites set");
    if (!(r_out_ < hw))
      throw std::runtime_error("HopDetector: r_out " + num(r_out_) + " is not below half the smallest cell width " +
                               num(hw) + "; the minimum image would be ambiguous");
  } else if (!(threshold_ < hw)) {
    throw std::runtime_error("HopDetector: threshold " + num(threshold_) +
                             " is not below half the smallest cell width " + num(hw));
  }
}

// ---------------------------------------------------------------- geometry

double HopDetector::site_distance(const Box &box, const double s[3], int site) const {
  double ds[3], d[3];
  for (int k = 0; k < 3; ++k) ds[k] = Box::round_half(s[k] - sites_[3 * site + k]);
  box.vec_to_cart(ds, d);
  return std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
}

const CellList::Reach &HopDetector::site_reach(const Box &box, double r) const {
  if (site_cells_.empty() || site_cells_.npoints() != nsites()) {
    site_cells_.build(nsites(), sites_.data(), box, r_in_);
    reach_r_ = -1.0;
  }
  if (r != reach_r_ || !std::equal(box.h, box.h + 6, reach_box_.h)) {
    reach_ = site_cells_.reach(box, r);
    reach_box_ = box;
    reach_r_ = r;
  }
  return reach_;
}

int HopDetector::nearest_site(const Box &box, const double s[3], double r) const {
  int best = -1;
  double bestd = r;
  site_cells_.for_each_candidate(site_reach(box, r), s, [&](int i) {
    const double d = site_distance(box, s, i);
    if (d < bestd || (d == bestd && (best < 0 || i < best))) {  // ties: the lower index
      bestd = d;
      best = i;
    }
  });
  return best;
}

int HopDetector::nearest_site_brute(const Box &box, const double s[3], double r) const {
  int best = -1;
  double bestd = r;
  const int ns = nsites();
  for (int i = 0; i < ns; ++i) {
    const double d = site_distance(box, s, i);
    if (d <= bestd) {
      if (d == bestd && best >= 0) continue;  // tie: keep the lower index
      bestd = d;
      best = i;
    }
  }
  return best;
}

int HopDetector::nearest_site_of(const Box &box, const double x[3], double r, bool brute) const {
  if (sites_.empty()) throw std::runtime_error("HopDetector: no sites set");
  double s[3];
  box.to_frac(x, s);
  return brute ? nearest_site_brute(box, s, r) : nearest_site(box, s, r);
}

// ---------------------------------------------------------------- per-atom update

void HopDetector::init_atom_state(double *st, const double x[3], const Box &box, std::int64_t step) const {
  const double t = static_cast<double>(step);
  std::fill(st, st + peratom_doubles(), 0.0);
  st[kInit] = 1.0;
  st[kNHops] = 0.0;
  if (mode_ == Mode::Sites) {
    double s[3];
    box.to_frac(x, s);
    const int a = nearest_site(box, s, r_in_);
    st[kCur] = a;
    st[kCurArrival] = t;
    st[kCurLast] = t;
    st[kFlags] = a >= 0 ? HopEvent::kCensored : 0;
    st[kAsg] = a;
    st[kCand] = -1;
    st[kCandArrival] = 0.0;
    st[kCandCount] = 0.0;
  } else {
    for (int k = 0; k < 3; ++k) {
      st[kCentre + k] = x[k];
      st[kAnchor + k] = x[k];
      st[kPrev + k] = x[k];
      st[kCandSum + k] = 0.0;
    }
    st[kAnchorN] = 1.0;
    st[kAnchorArrival] = t;
    st[kAnchorLast] = t;
    st[kFreeFlags] = HopEvent::kCensored;
    st[kFreeCandCount] = 0.0;
    st[kFreeCandArrival] = 0.0;
  }
}

void HopDetector::update_atom(const Box &box, const double x[3], std::int64_t id, double *st, std::int64_t step) {
  if (st[kInit] == 0.0) {
    init_atom_state(st, x, box, step);
    return;
  }
  if (mode_ == Mode::Sites)
    update_site(box, x, id, st, step);
  else
    update_free(box, x, id, st, step);
}

void HopDetector::add_sample(const Box &box, int n, const double *x, const std::int64_t *ids, double *states,
                             std::int64_t step, const int *active) {
  check_box(box);
  const int m = peratom_doubles();
  for (int i = 0; i < n; ++i) {
    if (active && !active[i]) continue;
    update_atom(box, x + 3 * i, ids ? ids[i] : i, states + static_cast<std::size_t>(i) * m, step);
  }
}

void HopDetector::update_site(const Box &box, const double x[3], std::int64_t id, double *st, std::int64_t step) {
  const double t = static_cast<double>(step);
  double s[3];
  box.to_frac(x, s);
  // 1. hysteresis assignment
  int asg = static_cast<int>(st[kAsg]);
  if (!(asg >= 0 && site_distance(box, s, asg) <= r_out_)) asg = nearest_site(box, s, r_in_);
  st[kAsg] = asg;
  const int cur = static_cast<int>(st[kCur]);
  // 2. confirmation
  if (asg < 0 || asg == cur) {  // in transit, or on (back on) the current site
    st[kCand] = -1;
    st[kCandCount] = 0.0;
    if (asg >= 0) st[kCurLast] = t;
    return;
  }
  if (static_cast<int>(st[kCand]) == asg) {
    st[kCandCount] += 1.0;
  } else {
    st[kCand] = asg;
    st[kCandArrival] = t;
    st[kCandCount] = 1.0;
  }
  if (st[kCandCount] < min_res_) return;
  const auto arrival = static_cast<std::int64_t>(st[kCandArrival]);
  if (cur >= 0) {
    HopEvent e;
    e.step = arrival;
    e.atom_id = id;
    e.from_site = cur;
    e.to_site = asg;
    site_cartesian(cur, box, e.from_x);
    site_cartesian(asg, box, e.to_x);
    box.delta(e.from_x, e.to_x, e.disp);
    e.origin_arrival_step = static_cast<std::int64_t>(st[kCurArrival]);
    e.origin_last_step = static_cast<std::int64_t>(st[kCurLast]);
    e.flags = static_cast<int>(st[kFlags]);
    events_.push_back(e);
    nhops_ += 1.0;
    st[kNHops] += 1.0;
  }
  st[kCur] = asg;
  st[kCurArrival] = static_cast<double>(arrival);
  st[kCurLast] = t;
  st[kFlags] = 0.0;
  st[kCand] = -1;
  st[kCandCount] = 0.0;
}

void HopDetector::update_free(const Box &box, const double x[3], std::int64_t id, double *st, std::int64_t step) {
  const double t = static_cast<double>(step);
  // continuous position
  double d[3], xc[3];
  box.delta(st + kPrev, x, d);
  for (int k = 0; k < 3; ++k) {
    xc[k] = st[kPrev + k] + d[k];
    st[kPrev + k] = xc[k];
  }
  // EMA centre
  const double alpha = 2.0 / (window_ + 1.0);
  double r2 = 0.0;
  for (int k = 0; k < 3; ++k) {
    st[kCentre + k] += alpha * (xc[k] - st[kCentre + k]);
    const double dk = st[kCentre + k] - st[kAnchor + k];
    r2 += dk * dk;
  }
  const bool away = r2 > threshold_ * threshold_;
  // Resident sample: the raw position is also within threshold of the anchor (the samples
  // between a real jump and the lagging EMA crossing belong to neither site).
  auto resident = [&]() {
    double q2 = 0.0;
    for (int k = 0; k < 3; ++k) q2 += (xc[k] - st[kAnchor + k]) * (xc[k] - st[kAnchor + k]);
    if (q2 > threshold_ * threshold_) return;
    const double nn = st[kAnchorN];
    for (int k = 0; k < 3; ++k) st[kAnchor + k] = (st[kAnchor + k] * nn + xc[k]) / (nn + 1.0);
    st[kAnchorN] = nn + 1.0;
    st[kAnchorLast] = t;
  };
  if (!away) {
    st[kFreeCandCount] = 0.0;
    for (int k = 0; k < 3; ++k) st[kCandSum + k] = 0.0;
    resident();
    return;
  }
  if (st[kFreeCandCount] == 0.0) {
    st[kFreeCandArrival] = t;
    for (int k = 0; k < 3; ++k) st[kCandSum + k] = 0.0;
  }
  st[kFreeCandCount] += 1.0;
  for (int k = 0; k < 3; ++k) st[kCandSum + k] += xc[k];
  if (st[kFreeCandCount] < min_res_) return;

  const double cnt = st[kFreeCandCount];
  HopEvent e;
  e.step = static_cast<std::int64_t>(st[kFreeCandArrival]);
  e.atom_id = id;
  double to[3];
  for (int k = 0; k < 3; ++k) {
    to[k] = st[kCandSum + k] / cnt;
    e.disp[k] = to[k] - st[kAnchor + k];
  }
  auto wrap_cart = [&box](const double *p, double *out) {
    double s[3];
    box.to_frac(p, s);
    for (double &v : s) v = Box::wrap01(v);
    box.to_cart(s, out);
  };
  wrap_cart(st + kAnchor, e.from_x);
  wrap_cart(to, e.to_x);
  e.origin_arrival_step = static_cast<std::int64_t>(st[kAnchorArrival]);
  e.origin_last_step = static_cast<std::int64_t>(st[kAnchorLast]);
  e.flags = static_cast<int>(st[kFreeFlags]);
  events_.push_back(e);
  nhops_ += 1.0;
  st[kNHops] += 1.0;
  for (int k = 0; k < 3; ++k) {
    st[kAnchor + k] = to[k];
    st[kCandSum + k] = 0.0;
  }
  st[kAnchorN] = cnt;
  st[kAnchorArrival] = static_cast<double>(e.step);
  st[kAnchorLast] = t;
  st[kFreeFlags] = 0.0;
  st[kFreeCandCount] = 0.0;
}

// ---------------------------------------------------------------- global state

std::vector<HopEvent> HopDetector::take_events() {
  std::vector<HopEvent> out;
  out.swap(events_);
  return out;
}

double HopDetector::count_hopped(int n, const double *states) const {
  const int m = peratom_doubles();
  double c = 0.0;
  for (int i = 0; i < n; ++i)
    if (states[static_cast<std::size_t>(i) * m + kNHops] > 0.0) c += 1.0;
  return c;
}

double HopDetector::pending_arrival(int n, const double *states) const {
  const int m = peratom_doubles();
  const int count = mode_ == Mode::Sites ? kCandCount : kFreeCandCount;
  const int arrival = mode_ == Mode::Sites ? kCandArrival : kFreeCandArrival;
  double t = std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) {
    const double *st = states + static_cast<std::size_t>(i) * m;
    if (st[kInit] != 0.0 && st[count] > 0.0) t = std::min(t, st[arrival]);
  }
  return t;
}

void HopDetector::merge(const HopDetector &o) {
  if (o.mode_ != mode_) throw std::invalid_argument("HopDetector::merge: modes differ");
  nhops_ += o.nhops_;
  events_.insert(events_.end(), o.events_.begin(), o.events_.end());
}

std::vector<double> HopDetector::serialize() const {
  std::vector<double> out = {static_cast<double>(kSerialVersion), static_cast<double>(mode_),
                             static_cast<double>(nsites()), nhops_, static_cast<double>(events_.size())};
  std::vector<double> ev = serialize_events(events_);
  out.insert(out.end(), ev.begin(), ev.end());
  return out;
}

void HopDetector::deserialize(const double *d, std::size_t n) {
  if (n < 5 || static_cast<int>(d[0]) != kSerialVersion)
    throw std::invalid_argument("HopDetector::deserialize: not a version-" + std::to_string(kSerialVersion) +
                                " hop-detector state");
  if (static_cast<int>(d[1]) != static_cast<int>(mode_))
    throw std::invalid_argument("HopDetector::deserialize: stored mode " + std::to_string(int(d[1])) +
                                " differs from this detector's mode " + std::to_string(int(mode_)));
  if (static_cast<int>(d[2]) != nsites())
    throw std::invalid_argument("HopDetector::deserialize: stored state has " + std::to_string(int(d[2])) +
                                " sites, this detector " + std::to_string(nsites()));
  const auto nev = static_cast<std::size_t>(d[4]);
  if (n != 5 + nev * HopEvent::kDoubles)
    throw std::invalid_argument("HopDetector::deserialize: size " + std::to_string(n) + " does not match " +
                                std::to_string(nev) + " events");
  nhops_ = d[3];
  events_ = deserialize_events(d + 5, nev * HopEvent::kDoubles);
}

// ---------------------------------------------------------------- site file

SiteFile read_site_file(const std::string &path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("read_site_file: cannot open " + path);
  auto fail = [&path](int line, const std::string &why) {
    throw std::runtime_error("read_site_file: " + path + ":" + std::to_string(line) + ": " + why);
  };
  SiteFile f;
  std::string line;
  int lineno = 0;
  if (!std::getline(in, line)) fail(1, "empty file");
  ++lineno;
  {
    std::istringstream ss(line);
    std::string hash, magic;
    int version = 0;
    if (!(ss >> hash >> magic >> version) || hash != "#" || magic != "ionsitu-sites")
      fail(1, "first line must be '# ionsitu-sites 1'");
    if (version != 1) fail(1, "unsupported version " + std::to_string(version) + " (this reader knows 1)");
    f.version = version;
  }
  bool have_cell = false, have_columns = false;
  long nsites = -1;
  std::size_t ncolumns = 0;
  long row = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream ss(line);
    if (!have_columns) {
      std::string key;
      ss >> key;
      if (key == "units") {
        ss >> f.units;
      } else if (key == "cell") {
        for (double &v : f.cell)
          if (!(ss >> v)) fail(lineno, "'cell' needs 9 numbers (rows a, b, c)");
        have_cell = true;
      } else if (key == "origin") {
        for (double &v : f.origin)
          if (!(ss >> v)) fail(lineno, "'origin' needs 3 numbers");
      } else if (key == "nsites") {
        if (!(ss >> nsites) || nsites < 0) fail(lineno, "'nsites' needs a count >= 0");
      } else if (key == "meta") {
        // free-form (JSON) metadata, ignored here
      } else if (key == "columns") {
        std::vector<std::string> names;
        std::string w;
        while (ss >> w) names.push_back(w);
        static const char *req[7] = {"index", "sx", "sy", "sz", "x", "y", "z"};
        if (names.size() < 7) fail(lineno, "'columns' must start with: index sx sy sz x y z");
        for (int k = 0; k < 7; ++k)
          if (names[k] != req[k]) fail(lineno, "'columns' must start with: index sx sy sz x y z");
        ncolumns = names.size();
        if (!have_cell) fail(lineno, "'cell' must come before 'columns'");
        if (nsites < 0) fail(lineno, "'nsites' must come before 'columns'");
        have_columns = true;
      } else {
        fail(lineno, "unknown keyword '" + key + "'");
      }
      continue;
    }
    if (row >= nsites) fail(lineno, "more data rows than nsites = " + std::to_string(nsites));
    std::vector<std::string> fields;
    std::string w;
    while (ss >> w) fields.push_back(w);
    if (fields.size() != ncolumns)
      fail(lineno, "expected " + std::to_string(ncolumns) + " fields, found " + std::to_string(fields.size()));
    try {
      std::size_t pos = 0;
      const long idx = std::stol(fields[0], &pos);
      if (pos != fields[0].size() || idx != row)
        fail(lineno, "site index " + fields[0] + ", expected " + std::to_string(row));
      for (int k = 0; k < 6; ++k) {
        const double v = std::stod(fields[1 + k], &pos);
        if (pos != fields[1 + k].size()) fail(lineno, "bad number '" + fields[1 + k] + "'");
        (k < 3 ? f.frac : f.cart).push_back(v);
      }
    } catch (const std::logic_error &) {  // stol/stod failures
      fail(lineno, "bad number in data row");
    }
    ++row;
  }
  if (!have_columns) fail(lineno, "no 'columns' line");
  if (row != nsites)
    fail(lineno, "found " + std::to_string(row) + " data rows, nsites = " + std::to_string(nsites));
  return f;
}

}  // namespace ionsitu
