#include "core/util/host_memory.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace caspl {

std::string configureHostAllocator() {
    static std::once_flag once;
    static std::string what;
    std::call_once(once, [] {
#if defined(__GLIBC__)
        const char* tunables = std::getenv("GLIBC_TUNABLES");
        if ((tunables && std::strstr(tunables, "glibc.malloc.")) || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
            std::getenv("MALLOC_TRIM_THRESHOLD_")) {
            what = "malloc: the environment's settings (GLIBC_TUNABLES / MALLOC_*_THRESHOLD_)";
            return;
        }
        // M_MMAP_THRESHOLD also turns off glibc's own adjustment of both thresholds.
        const bool ok = mallopt(M_MMAP_THRESHOLD, int(kHostMmapThreshold)) == 1 &&
                        mallopt(M_TRIM_THRESHOLD, int(kHostTrimThreshold)) == 1;
        what = ok ? "malloc: blocks up to 32 MiB from the heap, up to 256 MiB of free heap kept"
                  : "malloc: glibc refused the thresholds; its defaults stay";
#else
        what = "malloc: the C library's defaults (not glibc)";
#endif
    });
    return what;
}

}  // namespace caspl
