#pragma once
// Shared helpers for every test executable.
//
// Each test executable holds several Qt Test classes. A class registers itself with CASPL_REGISTER_TEST(Class);
// the executable's main() (support/test_main.cpp) runs one class with `--class Name` (how CTest calls it), all
// classes without arguments, and lists them with `--list`. Other arguments go to QTest (e.g. a function name).
//
// Reference data: fixturePath("clip-tiny-a/golden.safetensors") resolves against the CASPL_FIXTURES environment
// variable, else the CMake cache variable CASPL_FIXTURES_DIR (default ../shared/fixtures next to the project).
// CASPL_REQUIRE_FIXTURE fails the test, naming what is missing, when a file is absent: a test never passes
// silently for lack of data.
#include <QObject>
#include <QString>
#include <QTest>

#include "core/util/error.h"

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

namespace caspl::test {

int registerTestClass(const char* name, std::function<QObject*()> factory);
QString fixturesDir();
QString fixturePath(const QString& relative);
// A fresh temporary directory for the current test executable (removed at exit).
QString tempDir();

// Runs `f` and checks that it throws caspl::Error whose message contains every fragment (the engine's errors name
// the file, key or line and what was expected); records a test failure otherwise.
template <typename F>
void expectError(F&& f, const std::vector<std::string>& fragments) {
    try {
        f();
    } catch (const caspl::Error& e) {
        const std::string msg = e.what();
        for (const auto& frag : fragments)
            QVERIFY2(msg.find(frag) != std::string::npos, ("message lacks '" + frag + "': " + msg).c_str());
        return;
    }
    QFAIL("no caspl::Error thrown");
}

}  // namespace caspl::test

#define CASPL_REGISTER_TEST(Class)                                                                           \
    static const int caspl_registered_##Class = caspl::test::registerTestClass(#Class, [] { return new Class; })

// Declares `std::string var` holding the fixture's path, or fails the current test saying what is missing.
#define CASPL_REQUIRE_FIXTURE(var, relative)                                                                 \
    const QString var##_q = caspl::test::fixturePath(relative);                                              \
    if (!QFileInfo::exists(var##_q))                                                                         \
        QFAIL(qPrintable(QStringLiteral("missing reference data: %1 (set CASPL_FIXTURES or the CMake cache "  \
                                        "variable CASPL_FIXTURES_DIR to the shared fixtures folder)")         \
                             .arg(var##_q)));                                                                 \
    const std::string var = var##_q.toStdString()

#include <QFileInfo>
