#pragma once
// An exclusive lock on a folder, so that two runs (two processes, or two runs in one process) never write into the
// same run folder at once. It is an advisory flock() on <folder>/.lock, which holds the holder's process id: the
// kernel releases it when the holder ends, however it ends (a crash or a kill leaves no stale lock).
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

private:
    int fd_ = -1;
};

}  // namespace caspl
