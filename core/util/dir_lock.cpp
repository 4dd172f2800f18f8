#include "core/util/dir_lock.h"

#include "core/util/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace caspl {

DirLock::DirLock(const std::string& folder, const std::string& purpose) {
    const std::string path = (std::filesystem::path(folder) / kFileName).string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path + ": cannot create the lock file: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char buf[32] = {};
        const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        std::string holder = n > 0 ? std::string(buf, std::size_t(n)) : std::string();
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK)
            throw Error(folder + ": in use by another " + purpose + (holder.empty() ? "" : " (process " + holder + ")") +
                        "; wait for it to end or stop it, then try again");
        throw Error(path + ": cannot lock: " + std::strerror(err));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) {
        const ssize_t w = ::pwrite(fd_, pid.data(), pid.size(), 0);
        (void)w;  // the process id is for the message above only
    }
}

std::optional<long> DirLock::holder(const std::string& folder) {
    const std::string path = (std::filesystem::path(folder) / kFileName).string();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    long written = 0;
    {
        std::ifstream f(path);
        if (!(f >> written) || written <= 0) return std::nullopt;  // never locked, or being written right now
    }
    std::ifstream locks("/proc/locks");
    if (!locks) return std::nullopt;
    // "1: FLOCK  ADVISORY  WRITE 4242 08:02:1835021 0 EOF" (index, kind, mode, access, pid, major:minor:inode in
    // hex:hex:decimal, range); waiters read "1: -> FLOCK ...". A lock on this inode counts when its device is the
    // file's or, where they differ (overlay file systems report another device), when its pid is the one written in
    // the file. The pid in the table is the process that called flock(), which may differ from the one that wrote
    // the file (a shell that holds the lock through flock(1)): the file's pid is the answer.
    const unsigned long long inode = static_cast<unsigned long long>(st.st_ino);
    std::string line;
    while (std::getline(locks, line)) {
        std::istringstream in(line);
        std::string index, kind, mode, access, device;
        long pid = 0;
        if (!(in >> index >> kind) || kind != "FLOCK") continue;
        if (!(in >> mode >> access >> pid >> device)) continue;
        unsigned int maj = 0, min = 0;
        unsigned long long ino = 0;
        if (std::sscanf(device.c_str(), "%x:%x:%llu", &maj, &min, &ino) != 3 || ino != inode) continue;
        if ((maj == major(st.st_dev) && min == minor(st.st_dev)) || pid == written) return written;
    }
    return std::nullopt;
}

DirLock::~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

}  // namespace caspl
