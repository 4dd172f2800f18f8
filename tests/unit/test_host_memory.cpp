// The host allocator's settings (core/util/host_memory.h): tensor-sized blocks come from the heap and stay there
// when freed, so that a training step does not fault the same pages in again every time.
#include "core/util/host_memory.h"
#include "test_support.h"

#include <QTest>

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

class HostMemoryTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void keepsTensorSizedBlocksInTheHeap() {
#if !defined(__GLIBC__)
        QSKIP("not glibc: the C library's allocator is left as it is");
#else
        const std::string what = caspl::configureHostAllocator();
        if (what.find("environment") != std::string::npos) QSKIP("the environment sets malloc's thresholds");
        QVERIFY2(what.find("32 MiB") != std::string::npos, what.c_str());
        QCOMPARE(caspl::configureHostAllocator(), what);  // once per process

        constexpr std::size_t kBlock = std::size_t(8) << 20;  // an activation of a small model's training step
        const auto before = mallinfo2();
        auto* p = static_cast<volatile char*>(std::malloc(kBlock));
        QVERIFY(p);
        for (std::size_t i = 0; i < kBlock; i += 4096) p[i] = char(i);
        const auto during = mallinfo2();
        QCOMPARE(during.hblks, before.hblks);  // from the heap, not a mapping of its own
        std::free(const_cast<char*>(p));
        QVERIFY2(mallinfo2().keepcost >= kBlock, "the freed block went back to the system");

        constexpr std::size_t kHuge = std::size_t(64) << 20;  // above the threshold: mapped, and unmapped when freed
        auto* q = static_cast<volatile char*>(std::malloc(kHuge));
        QVERIFY(q);
        q[0] = 1;
        QCOMPARE(mallinfo2().hblks, before.hblks + 1);
        std::free(const_cast<char*>(q));
        QCOMPARE(mallinfo2().hblks, before.hblks);
#endif
    }
};

CASPL_REGISTER_TEST(HostMemoryTest);
#include "test_host_memory.moc"
