// ionsitu: sampling schedule, output schedule and migrating per-atom state of the fixes.

#include "fix_sampled.h"

#include "atom.h"
#include "error.h"
#include "memory.h"
#include "modify.h"
#include "update.h"

#include <cstring>

using namespace LAMMPS_NS;
using namespace FixConst;

FixSampled::FixSampled(LAMMPS *lmp, int narg, char **arg, const char *style) :
    Fix(lmp, narg, arg), style(style), output_every(0), peratom(nullptr), nper(0), nmax_peratom(0)
{
}

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

void FixSampled::setup(int)
{
  if (update->ntimestep % nevery == 0) sample();
}

void FixSampled::end_of_step()
{
  sample();
  if (output_every > 0 && update->ntimestep % output_every == 0) write_output();
}

void FixSampled::post_run()
{
  if (has_output()) write_output();
}

void FixSampled::use_peratom_state(int n)
{
  nper = n;
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
