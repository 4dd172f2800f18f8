#pragma once
// An exclusive lock on a folder, so that two runs (two processes, or two runs in one process) never write into the
// same run folder at once. It is an advisory flock() on <folder>/.lock, which holds the holder's process id and host
// name: the kernel releases it when the holder ends, however it ends (a crash or a kill leaves no stale lock).
//
// While held, the lock file's modification time is a heartbeat, touched every kHeartbeatSeconds by a small thread:
// a process on another machine sharing the folder (NFS) is not in this machine's lock table, but its heartbeat is
// seen. Released normally, the file is emptied.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace caspl {

// Who holds a folder's lock.
struct LockHolder {
    long pid = 0;
    std::string host;           // the holder's host name ("" in lock files written before host names were)
    bool local = true;          // a process of this machine (the kernel's lock table says it holds the lock)
    double heartbeatAge = 0;    // seconds since the lock file was last touched
    std::string describe() const;  // "process 4242", or "process 4242 on node17" for another machine
};

class DirLock {
public:
    static constexpr int kHeartbeatSeconds = 20;
    // A remote holder whose heartbeat is older than this is taken for gone (crashed, or its machine is down).
    static constexpr int kStaleSeconds = 90;

    // Takes the lock or throws caspl::Error naming the folder, `purpose` and the holder (process id, host).
    DirLock(const std::string& folder, const std::string& purpose,
            std::chrono::milliseconds heartbeat = std::chrono::seconds(kHeartbeatSeconds));
    ~DirLock();
    DirLock(const DirLock&) = delete;
    DirLock& operator=(const DirLock&) = delete;

    static constexpr const char* kFileName = ".lock";

    // The process id of the process of this machine that holds the lock on `folder` now, without touching the lock
    // (so a run starting at that moment is never refused because of the question): the pid written in
    // <folder>/.lock, when the kernel's table of flock()s (/proc/locks) holds a lock on that file. nullopt when no
    // process of this machine holds it, when the folder has no lock file, or where the table cannot be read.
    static std::optional<long> holder(const std::string& folder);

    // Who runs the folder now: a process of this machine (as holder()), or one on another machine whose host name
    // is in the lock file and whose heartbeat is younger than kStaleSeconds. nullopt when neither.
    static std::optional<LockHolder> runningHolder(const std::string& folder);

    static std::string hostName();  // this machine's

private:
    int fd_ = -1;
    std::mutex mu_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread heartbeat_;
};

}  // namespace caspl
