#include "core/util/atomic_file.h"

#include "core/util/error.h"

#include <algorithm>
#include <cctype>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace caspl {

namespace {
void fsyncPath(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}
std::string parentDir(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}
}  // namespace

void writeFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
    // Unique per call, not only per process: two threads (the studio's window and its run) may write one file.
    static std::atomic<unsigned long long> counter{0};
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    try {
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            if (!out) throw Error(path + ": cannot create temporary file " + tmp + ": " + std::strerror(errno));
            write(out);
            out.flush();
            if (!out) throw Error(path + ": write failed (disk full?)");
        }
        fsyncPath(tmp);
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            throw Error(path + ": cannot replace file: " + std::strerror(errno));
        fsyncPath(parentDir(path));
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
}

bool isAtomicTempName(const std::string& name) {
    const auto at = name.rfind(".tmp-");
    if (at == std::string::npos || at == 0) return false;
    const std::string rest = name.substr(at + 5);  // <pid>-<n>
    const auto dash = rest.find('-');
    const auto digits = [](const std::string& t) {
        return !t.empty() && std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
    };
    return dash != std::string::npos && digits(rest.substr(0, dash)) && digits(rest.substr(dash + 1));
}

void writeFileAtomically(const std::string& path, const std::string& content) {
    writeFileAtomically(path, [&](std::ostream& out) { out.write(content.data(), std::streamsize(content.size())); });
}

std::string readFile(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a folder, expected a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open file: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace caspl
