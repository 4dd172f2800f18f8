#include "core/util/host_memory.h"
#include "test_support.h"
#include "ui/text_format.h"

#include <QCoreApplication>
#include <QDir>
#include <QTemporaryDir>

#include <cstdio>
#include <map>
#include <memory>

#ifdef CASPL_TEST_GUI
#include <QApplication>
#endif

namespace caspl::test {

namespace {
std::map<std::string, std::function<QObject*()>>& registry() {
    static std::map<std::string, std::function<QObject*()>> r;
    return r;
}
std::unique_ptr<QTemporaryDir>& tempDirHolder() {
    static std::unique_ptr<QTemporaryDir> d;
    return d;
}
}  // namespace

int registerTestClass(const char* name, std::function<QObject*()> factory) {
    registry()[name] = std::move(factory);
    return 0;
}

QString fixturesDir() {
    const QByteArray env = qgetenv("CASPL_FIXTURES");
    if (!env.isEmpty()) return QString::fromLocal8Bit(env);
    return QStringLiteral(CASPL_FIXTURES_DIR);
}

QString fixturePath(const QString& relative) { return QDir(fixturesDir()).filePath(relative); }

QString tempDir() {
    auto& d = tempDirHolder();
    if (!d) d = std::make_unique<QTemporaryDir>();
    return d->path();
}

}  // namespace caspl::test

int main(int argc, char** argv) {
    caspl::configureHostAllocator();  // as the executables do (through initRuntime)
#ifdef CASPL_TEST_GUI
    QApplication app(argc, argv);
#else
    QCoreApplication app(argc, argv);
#endif
    caspl::ui::keepCNumericLocale();  // as caspl-studio does
    QStringList args = app.arguments();
    QString only;
    QStringList qtestArgs{args.value(0)};
    for (int i = 1; i < args.size(); ++i) {
        if (args[i] == "--list") {
            for (const auto& [name, f] : caspl::test::registry()) std::printf("%s\n", name.c_str());
            return 0;
        }
        if (args[i] == "--class" && i + 1 < args.size()) {
            only = args[++i];
            continue;
        }
        qtestArgs << args[i];
    }
    int failures = 0;
    bool ran = false;
    for (const auto& [name, factory] : caspl::test::registry()) {
        if (!only.isEmpty() && only != QString::fromStdString(name)) continue;
        ran = true;
        std::unique_ptr<QObject> obj(factory());
        failures += QTest::qExec(obj.get(), qtestArgs);
    }
    if (!ran) {
        std::fprintf(stderr, "no test class named '%s' (use --list)\n", qPrintable(only));
        return 2;
    }
    return failures == 0 ? 0 : 1;
}
