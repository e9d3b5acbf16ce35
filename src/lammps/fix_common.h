// ionsitu: helpers shared by the fix styles (argument checks with messages that name the
// problem, JSON strings for output headers, global restart records).

#ifndef IONSITU_FIX_COMMON_H
#define IONSITU_FIX_COMMON_H

#include "box_geometry.h"

#include "domain.h"
#include "error.h"
#include "lammps.h"
#include "utils.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace ionsitu {

// Limits of the integer arguments (parsed as 64-bit, never wrapped).
constexpr long long MAX_NEVERY = 2147483647;            // LAMMPS keeps Nevery in an int
constexpr long long MAX_STEP = 9223372036854775807LL;   // steps are 64-bit (bigint)
constexpr long long MAX_SAMPLES = 1000000;              // residence, window (samples)

// Reads the arguments of a fix command; every failure is an error->all naming the style,
// the keyword and the offending value (and the allowed range for integers).
class ArgReader {
 public:
  ArgReader(LAMMPS_NS::LAMMPS *lmp, const char *style, int narg, char **arg) :
      lmp(lmp), style(style), narg(narg), arg(arg)
  {
  }

  // positional integer argument `name` at arg[iarg], in 1..max
  long long positive_int(int iarg, const char *name, long long max = MAX_NEVERY) const
  {
    if (iarg >= narg)
      lmp->error->all(FLERR, "{}: missing argument {} (expected 'fix ID group-ID {} {} ...')", style,
                      name, style + 4, name);
    return integer(arg[iarg], name, 1, max);
  }

  // the value following the keyword at arg[iarg]
  std::string value(int iarg) const
  {
    if (iarg + 1 >= narg) lmp->error->all(FLERR, "{}: keyword {} needs a value", style, arg[iarg]);
    return arg[iarg + 1];
  }

  // integer value of the keyword at arg[iarg], in min..max
  long long int_value(int iarg, long long min, long long max = MAX_STEP) const
  {
    return integer(value(iarg), arg[iarg], min, max);
  }

  // floating-point value of the keyword at arg[iarg]
  double double_value(int iarg) const { return number(value(iarg), arg[iarg]); }

  // `text` as a 64-bit integer in min..max; `what` names it in the message
  long long integer(const std::string &text, const char *what, long long min, long long max) const
  {
    if (!LAMMPS_NS::utils::is_integer(text))
      lmp->error->all(FLERR, "{}: {} expects an integer, got '{}'", style, what, text);
    errno = 0;
    const long long n = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == ERANGE || n < min || n > max)
      lmp->error->all(FLERR, "{}: {} must be {}, got {}", style, what, range(min, max), text);
    return n;
  }

  // `text` as a finite floating-point number
  double number(const std::string &text, const char *what) const
  {
    if (!LAMMPS_NS::utils::is_double(text))
      lmp->error->all(FLERR, "{}: {} expects a number, got '{}'", style, what, text);
    const double v = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v)) lmp->error->all(FLERR, "{}: {} must be finite, got {}", style, what, text);
    return v;
  }

 private:
  LAMMPS_NS::LAMMPS *lmp;
  const char *style;
  int narg;
  char **arg;

  static std::string range(long long min, long long max)
  {
    if (max == MAX_STEP) return min == 1 ? std::string("> 0") : ">= " + std::to_string(min);
    return "in " + std::to_string(min) + ".." + std::to_string(max);
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

// FNV-1a 64-bit digest of `n` bytes, as 16 hex digits (identifies inputs in restart records).
inline std::string digest(const void *data, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char *>(data)[i]) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long) h);
  return hex;
}

// The current LAMMPS box as an ionsitu::Box (origin boxlo; h = xprd yprd zprd yz xz xy,
// the order of Domain::h), for the fixes that work in fractional coordinates.
inline Box current_box(const LAMMPS_NS::Domain *domain)
{
  return Box(domain->boxlo, domain->h);
}

}    // namespace ionsitu

#endif
