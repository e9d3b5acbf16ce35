// ionsitu core: an append-only text log with a fixed-size header rewritten in place, for
// logs that grow with the run and must be neither held in memory nor rewritten whole
// (fix hop/events' event log).
//
// The file is [header][committed rows][provisional tail]. append_log_write():
//   1. creates the file with `header` when committed == 0; otherwise checks that the file
//      has at least `committed` bytes and truncates it there (dropping the previous tail,
//      or whatever a killed run wrote after the checkpoint it resumes from);
//   2. appends `final_text` and fsyncs: these rows are committed; returns the new
//      committed length, which the caller records (e.g. in its restart file) and passes
//      back next time;
//   3. appends `tail_text` (rows that may still change; dropped by the next write),
//      overwrites the header in place (it must have the size it was created with: checked
//      as the same number of lines ending at the same offset) and
//      fsyncs.
// A crash at any point leaves the committed bytes intact; the tail and header are
// complete again after the next write. A reader during a write may see a partial tail.
//
// C++17 + POSIX, no LAMMPS, no MPI. Errors throw std::runtime_error naming the path.
#pragma once

#include <cstdint>
#include <string>

namespace ionsitu {

std::uint64_t append_log_write(const std::string &path, const std::string &header, std::uint64_t committed,
                               const std::string &final_text, const std::string &tail_text);

// Size of the file in bytes, or -1 if it cannot be stat'ed (missing).
std::int64_t file_size(const std::string &path);

}  // namespace ionsitu
