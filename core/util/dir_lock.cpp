#include "core/util/dir_lock.h"

#include "core/util/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <ctime>
#include <unistd.h>

namespace caspl {

namespace {

// What a lock file says: "pid\nhost\n" (host missing in files written before it was recorded); pid 0 when empty.
std::pair<long, std::string> readLockFile(const std::string& path) {
    std::ifstream f(path);
    long pid = 0;
    std::string host;
    if (!(f >> pid) || pid <= 0) return {0, ""};
    f >> host;
    return {pid, host};
}

// Whether the kernel's flock table holds a lock on the file `st` describes, taken by `pid` or on its device.
bool lockedHere(const struct stat& st, long pid) {
    std::ifstream locks("/proc/locks");
    if (!locks) return false;
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
        long lockPid = 0;
        if (!(in >> index >> kind) || kind != "FLOCK") continue;
        if (!(in >> mode >> access >> lockPid >> device)) continue;
        unsigned int maj = 0, min = 0;
        unsigned long long ino = 0;
        if (std::sscanf(device.c_str(), "%x:%x:%llu", &maj, &min, &ino) != 3 || ino != inode) continue;
        if ((maj == major(st.st_dev) && min == minor(st.st_dev)) || lockPid == pid) return true;
    }
    return false;
}

}  // namespace

std::string LockHolder::describe() const {
    return "process " + std::to_string(pid) + (local || host.empty() ? "" : " on " + host);
}

std::string DirLock::hostName() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "";
    return buf;
}

DirLock::DirLock(const std::string& folder, const std::string& purpose, std::chrono::milliseconds heartbeat) {
    const std::string path = (std::filesystem::path(folder) / kFileName).string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path + ": cannot create the lock file: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK) {
            const auto [pid, host] = readLockFile(path);
            std::string who;
            if (pid > 0) who = " (process " + std::to_string(pid) + (host.empty() || host == hostName() ? "" : " on " + host) + ")";
            throw Error(folder + ": in use by another " + purpose + who + "; wait for it to end or stop it, then try again");
        }
        throw Error(path + ": cannot lock: " + std::strerror(err));
    }
    // Where flock() does not reach across machines (some NFS mounts), a run on another machine is still seen by
    // the heartbeat it leaves in the file.
    {
        struct stat st {};
        const auto [pid, host] = readLockFile(path);
        if (pid > 0 && !host.empty() && host != hostName() && ::fstat(fd_, &st) == 0) {
            const double age = double(std::time(nullptr) - st.st_mtim.tv_sec);
            if (age < kStaleSeconds) {
                ::close(fd_);
                fd_ = -1;
                throw Error(folder + ": in use by another " + purpose + " (process " + std::to_string(pid) + " on " + host +
                            ", alive " + std::to_string(long(age)) + " s ago); wait for it to end or stop it, then try again "
                            "(if its machine went down, " + std::to_string(kStaleSeconds) + " s after its last sign of life)");
            }
        }
    }
    const std::string text = std::to_string(::getpid()) + "\n" + hostName() + "\n";
    if (::ftruncate(fd_, 0) == 0) {
        const ssize_t w = ::pwrite(fd_, text.data(), text.size(), 0);
        (void)w;  // who holds it is for messages and observers only
    }
    heartbeat_ = std::thread([this, heartbeat] {
        std::unique_lock<std::mutex> lock(mu_);
        while (!wake_.wait_for(lock, heartbeat, [this] { return stopping_; })) ::futimens(fd_, nullptr);
    });
}

DirLock::~DirLock() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (heartbeat_.joinable()) heartbeat_.join();
    if (fd_ >= 0) {
        // Emptied while still held: an observer on another machine sees the run ended (not a stale heartbeat).
        if (::ftruncate(fd_, 0) != 0) {
            // the kernel releases the lock all the same
        }
        ::close(fd_);  // closing the last descriptor releases the lock
    }
}

std::optional<long> DirLock::holder(const std::string& folder) {
    const std::string path = (std::filesystem::path(folder) / kFileName).string();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    const long written = readLockFile(path).first;
    if (written <= 0) return std::nullopt;  // never locked, released, or being written right now
    if (lockedHere(st, written)) return written;
    return std::nullopt;
}

std::optional<LockHolder> DirLock::runningHolder(const std::string& folder) {
    const std::string path = (std::filesystem::path(folder) / kFileName).string();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    const auto [pid, host] = readLockFile(path);
    if (pid <= 0) return std::nullopt;
    LockHolder h;
    h.pid = pid;
    h.host = host;
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    h.heartbeatAge = double(now.tv_sec - st.st_mtim.tv_sec) + 1e-9 * double(now.tv_nsec - st.st_mtim.tv_nsec);
    if (lockedHere(st, pid)) return h;
    // Another machine's process is not in this machine's table: its heartbeat tells.
    if (!host.empty() && host != hostName() && h.heartbeatAge < kStaleSeconds) {
        h.local = false;
        return h;
    }
    return std::nullopt;
}

}  // namespace caspl
