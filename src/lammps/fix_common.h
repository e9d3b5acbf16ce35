// ionsitu: helpers shared by the fix styles (argument checks with messages that name the
// problem, JSON strings for output headers, global restart records).

#ifndef IONSITU_FIX_COMMON_H
#define IONSITU_FIX_COMMON_H

#include "box_geometry.h"

#include "domain.h"
#include "error.h"
#include "lammps.h"
#include "utils.h"

#include <cstdio>
#include <string>
#include <vector>

namespace ionsitu {

// Reads the arguments of a fix command; every failure is an error->all naming the style,
// the keyword and the offending value.
class ArgReader {
 public:
  ArgReader(LAMMPS_NS::LAMMPS *lmp, const char *style, int narg, char **arg) :
      lmp(lmp), style(style), narg(narg), arg(arg)
  {
  }

  // positional integer argument `name` at arg[iarg], > 0
  int positive_int(int iarg, const char *name) const
  {
    if (iarg >= narg)
      lmp->error->all(FLERR, "{}: missing argument {} (expected 'fix ID group-ID {} {} ...')", style,
                      name, style + 4, name);
    const long long v = integer(arg[iarg], name);
    if (v <= 0) lmp->error->all(FLERR, "{}: {} must be > 0, got {}", style, name, arg[iarg]);
    return (int) v;
  }

  // the value following the keyword at arg[iarg]
  std::string value(int iarg) const
  {
    if (iarg + 1 >= narg) lmp->error->all(FLERR, "{}: keyword {} needs a value", style, arg[iarg]);
    return arg[iarg + 1];
  }

  // integer value of the keyword at arg[iarg], >= min
  long long int_value(int iarg, long long min) const
  {
    const std::string v = value(iarg);
    const long long n = integer(v, arg[iarg]);
    if (n < min) lmp->error->all(FLERR, "{}: {} must be >= {}, got {}", style, arg[iarg], min, v);
    return n;
  }

  // floating-point value of the keyword at arg[iarg]
  double double_value(int iarg) const
  {
    const std::string v = value(iarg);
    if (!LAMMPS_NS::utils::is_double(v))
      lmp->error->all(FLERR, "{}: {} expects a number, got '{}'", style, arg[iarg], v);
    return std::stod(v);
  }

 private:
  LAMMPS_NS::LAMMPS *lmp;
  const char *style;
  int narg;
  char **arg;

  long long integer(const std::string &text, const char *what) const
  {
    if (!LAMMPS_NS::utils::is_integer(text))
      lmp->error->all(FLERR, "{}: {} expects an integer, got '{}'", style, what, text);
    return std::stoll(text);
  }
};

// A JSON string literal (quotes and escapes).
inline std::string json_string(const std::string &s)
{
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if ((unsigned char) c < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Global restart record: LAMMPS stores (int nbytes, bytes) and hands back the bytes; the
// first double holds the number of values that follow.  Call on every rank; rank 0 writes.
inline void write_restart_record(FILE *fp, int me, const std::vector<double> &values)
{
  if (me != 0 || !fp) return;
  const double count = (double) values.size();
  const int nbytes = (int) ((values.size() + 1) * sizeof(double));
  std::fwrite(&nbytes, sizeof(int), 1, fp);
  std::fwrite(&count, sizeof(double), 1, fp);
  std::fwrite(values.data(), sizeof(double), values.size(), fp);
}

inline std::vector<double> read_restart_record(const char *raw)
{
  const auto *d = reinterpret_cast<const double *>(raw);
  return std::vector<double>(d + 1, d + 1 + (size_t) d[0]);
}

// The current LAMMPS box as an ionsitu::Box (origin boxlo; h = xprd yprd zprd yz xz xy,
// the order of Domain::h), for the fixes that work in fractional coordinates.
inline Box current_box(const LAMMPS_NS::Domain *domain)
{
  return Box(domain->boxlo, domain->h);
}

}    // namespace ionsitu

#endif
