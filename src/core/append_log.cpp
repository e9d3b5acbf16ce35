// ionsitu core: append-only log file. See append_log.h.
#include "append_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ionsitu {

namespace {
[[noreturn]] void fail(const std::string &what, const std::string &path) {
  throw std::runtime_error("cannot " + what + " " + path + " (" + std::strerror(errno) + ")");
}

void write_all(int fd, const std::string &text, off_t at, const std::string &path) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::pwrite(fd, text.data() + done, text.size() - done, at + static_cast<off_t>(done));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write", path);
    }
    done += static_cast<std::size_t>(w);
  }
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::int64_t file_size(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<std::int64_t>(st.st_size);
}

std::uint64_t append_log_write(const std::string &path, const std::string &header, std::uint64_t committed,
                               const std::string &final_text, const std::string &tail_text) {
  const bool create = committed == 0;
  Fd f{::open(path.c_str(), create ? (O_WRONLY | O_CREAT | O_TRUNC) : O_RDWR, 0644)};
  if (f.fd < 0) fail("open", path + " for writing");
  if (create) {
    write_all(f.fd, header, 0, path);
    committed = header.size();
  } else {
    struct stat st;
    if (::fstat(f.fd, &st) != 0) fail("stat", path);
    if (static_cast<std::uint64_t>(st.st_size) < committed)
      throw std::runtime_error(path + " has " + std::to_string(st.st_size) + " bytes, fewer than the " +
                               std::to_string(committed) +
                               " bytes already committed to it (was it replaced or truncated?)");
    // the header on disk must have the new header's size: same number of lines, ending there
    std::string disk(header.size(), '\0');
    const ssize_t r = committed < header.size() ? -1 : ::pread(f.fd, &disk[0], disk.size(), 0);
    const auto lines = [](const std::string &t) { return std::count(t.begin(), t.end(), '\n'); };
    if (r != static_cast<ssize_t>(disk.size()) || disk.back() != '\n' || lines(disk) != lines(header))
      throw std::runtime_error(path + ": the header on disk does not have the size of the new header (" +
                               std::to_string(header.size()) + " bytes); not a log this writer created");
  }
  if (::ftruncate(f.fd, static_cast<off_t>(committed)) != 0) fail("truncate", path);
  write_all(f.fd, final_text, static_cast<off_t>(committed), path);
  if (::fsync(f.fd) != 0) fail("sync", path);
  committed += final_text.size();
  write_all(f.fd, tail_text, static_cast<off_t>(committed), path);
  write_all(f.fd, header, 0, path);
  if (::fsync(f.fd) != 0) fail("sync", path);
  const int fd = f.fd;
  f.fd = -1;
  if (::close(fd) != 0) fail("close", path);
  return committed;
}

}  // namespace ionsitu
