#include "core/io/gzip_file.h"

#include "core/util/error.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace caspl {

std::string readGzipFile(const std::string& path, const std::string& expected, const std::string& missingAdvice) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw Error(path + ": file not found or not a file; expected " + expected +
                    (missingAdvice.empty() ? "" : " (" + missingAdvice + ")"));
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
    std::string data;
    std::vector<char> buf(1 << 18);
    for (;;) {
        const int n = gzread(f, buf.data(), unsigned(buf.size()));
        if (n < 0) {
            int err = 0;
            const std::string msg = gzerror(f, &err);
            gzclose(f);
            throw Error(path + ": corrupt gzip data (" + msg + "); expected " + expected);
        }
        if (n == 0) break;
        data.append(buf.data(), std::size_t(n));
    }
    const int rc = gzclose(f);
    if (rc != Z_OK)
        throw Error(path + ": truncated or corrupt gzip data (zlib error " + std::to_string(rc) + "); expected " + expected);
    return data;
}

}  // namespace caspl
