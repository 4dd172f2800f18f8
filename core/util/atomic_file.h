#pragma once
// Writing a file so that a crash or a full disk never leaves a half-written file in place of a good one:
// the bytes go to "<path>.tmp-<pid>-<n>", are flushed to disk, then renamed over <path> (rename is atomic on POSIX).
#include <functional>
#include <ostream>
#include <string>

namespace caspl {

// Calls write(stream) on a temporary file next to `path`, then renames it to `path`. If write throws or the
// stream fails, the temporary file is removed, `path` keeps its old contents and a caspl::Error is thrown.
void writeFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// Whether a file name is one of writeFileAtomically's temporary files ("<file>.tmp-<pid>-<n>"): left behind only by
// a writer that was killed between creating it and renaming it.
bool isAtomicTempName(const std::string& name);

// Convenience: the whole content at once.
void writeFileAtomically(const std::string& path, const std::string& content);

// Reads a whole file; throws caspl::Error naming the path when it cannot.
std::string readFile(const std::string& path);

}  // namespace caspl
