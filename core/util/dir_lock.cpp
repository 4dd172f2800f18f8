#include "core/util/dir_lock.h"

#include "core/util/error.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
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

DirLock::~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

}  // namespace caspl
