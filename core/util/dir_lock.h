#pragma once
// An exclusive lock on a folder, so that two runs (two processes, or two runs in one process) never write into the
// same run folder at once. It is an advisory flock() on <folder>/.lock, which holds the holder's process id: the
// kernel releases it when the holder ends, however it ends (a crash or a kill leaves no stale lock).
#include <optional>
#include <string>

namespace caspl {

class DirLock {
public:
    // Takes the lock or throws caspl::Error naming the folder, `purpose` and the holder's process id.
    DirLock(const std::string& folder, const std::string& purpose);
    ~DirLock();
    DirLock(const DirLock&) = delete;
    DirLock& operator=(const DirLock&) = delete;

    static constexpr const char* kFileName = ".lock";

    // The process id of whoever holds the lock on `folder` now, without touching the lock (so a run starting at
    // that moment is never refused because of the question): the pid written in <folder>/.lock, when the kernel's
    // table of flock()s (/proc/locks) holds a lock on that file. nullopt when nobody holds it, when the folder has no
    // lock file, or where the kernel's table cannot be read (not Linux).
    static std::optional<long> holder(const std::string& folder);

private:
    int fd_ = -1;
};

}  // namespace caspl
