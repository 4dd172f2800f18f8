// `caspl presets list|show|keys` and `caspl validate`, run as a user would: the presets are found without options
// (the source tree's presets/), with --presets DIR and with $CASPL_PRESETS; an invalid experiment gives exit code 3
// and file:line:col messages.
#include "cli_runner.h"
#include "test_support.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>

namespace {
using Result = caspl::test::CliResult;
Result runCaspl(const QStringList& args, const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment()) {
    QProcessEnvironment e = env;
    if (!e.contains("CASPL_PRESETS_KEEP")) e.remove("CASPL_PRESETS");
    return caspl::test::runCasplProcess(args, {}, e);
}

QString writeTemp(const QString& rel, const QByteArray& content) {
    const QString path = QDir(caspl::test::tempDir()).filePath(rel);
    QDir().mkpath(QFileInfo(path).path());
    QFile f(path);
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) f.write(content);
    return path;
}

#define CHECK_RUN(r, code)                                                                                       \
    QVERIFY2((r).exitCode == (code), qPrintable(QStringLiteral("exit %1\nstdout:\n%2\nstderr:\n%3")               \
                                                    .arg((r).exitCode)                                           \
                                                    .arg((r).out, (r).err)))
}  // namespace

class PresetsCliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void listShowsRunnablePresets() {
        const auto r = runCaspl({"presets", "list"});
        CHECK_RUN(r, 0);
        QVERIFY(r.out.contains(QRegularExpression("base2novel/promptsrc_caspl/dtd\\s+PromptSRC \\+ CasPL, base-to-novel")));
        QVERIFY(r.out.contains("demo"));
        QVERIFY(r.out.contains("domain_generalization/maple_caspl"));
        QVERIFY(!r.out.contains("datasets/dtd"));
        const auto all = runCaspl({"presets", "list", "--all"});
        CHECK_RUN(all, 0);
        QVERIFY(all.out.contains(QRegularExpression("datasets/dtd\\s+\\[fragment\\]")));
    }

    void showPrintsTheResolvedYaml() {
        const auto r = runCaspl({"presets", "show", "demo", "--set", "data.seeds=[1,2]", "--set", "train.epochs=3"});
        CHECK_RUN(r, 0);
        QVERIFY(r.out.contains("# Resolved experiment (caspl), hash "));
        QVERIFY(r.out.contains("fashion-mnist"));
        QVERIFY(r.out.contains("seeds: [1, 2]"));
        QVERIFY(r.out.contains("  epochs: 3\n"));
        QVERIFY(r.out.contains("#   --set train.epochs=3"));
        // Each --set takes one value: the preset may come after them.
        const auto before = runCaspl({"presets", "show", "--set", "data.seeds=[1,2]", "--set", "train.epochs=3", "demo"});
        CHECK_RUN(before, 0);
        QCOMPARE(before.out, r.out);
        // The printed YAML is itself a valid experiment.
        const QString file = writeTemp("shown/demo.yaml", r.out.toUtf8());
        const auto v = runCaspl({"validate", file});
        CHECK_RUN(v, 0);
        QVERIFY(v.out.contains("is valid (hash "));
    }

    void keysDocumentTheSchema() {
        const auto r = runCaspl({"presets", "keys"});
        CHECK_RUN(r, 0);
        QVERIFY(r.out.contains("train.lr: number, > 0 and <= 10 (default 0.002)"));
        QVERIFY(r.out.contains("data.protocol: base2novel | fewshot | all | cross_dataset | domain_generalization"));
    }

    void validateAcceptsPresetsAndFiles() {
        const auto r = runCaspl({"validate", "base2novel/promptsrc_caspl/eurosat"});
        CHECK_RUN(r, 0);
        QVERIFY(r.out.contains("ok: base2novel/promptsrc_caspl/eurosat is valid"));
        QVERIFY(r.out.contains("promptsrc+caspl, base2novel, 3 runs"));
    }

    // A fragment (abstract: true) validates as a fragment and does not run.
    void fragmentsValidateButDoNotRun() {
        const auto v = runCaspl({"validate", "datasets/dtd"});
        CHECK_RUN(v, 0);
        QVERIFY(v.out.contains("is a valid fragment (abstract: true)"));
        const QString out = QDir(caspl::test::tempDir()).filePath("fragment_runs");
        const auto r = runCaspl({"run", "datasets/dtd", "--output", out});
        CHECK_RUN(r, 3);
        QVERIFY(r.err.contains("is a fragment (abstract: true)"));
        QVERIFY(!QFileInfo::exists(out));
    }

    // Tabs in the indentation are named as such; a folder is not a preset; --presets is --presets-dir for run.
    void tabsFoldersAndOptionNames() {
        const QString tab = writeTemp("bad/tab.yaml", "method:\n  name: coop\ntrain:\n\tepochs: 2\n");
        const auto r = runCaspl({"validate", tab});
        CHECK_RUN(r, 3);
        QVERIFY2(r.err.contains("line 4 is indented with a tab; YAML indents with spaces only"), qPrintable(r.err));
        const QString folder = QDir(caspl::test::tempDir()).filePath("folder.yaml");
        QDir().mkpath(folder);
        const auto d = runCaspl({"validate", folder});
        CHECK_RUN(d, 3);
        QVERIFY2(d.err.contains("is a folder, expected a preset name or a YAML file"), qPrintable(d.err));
        const auto two = runCaspl({"run", "demo", "demo/coop", "--run-dir", QDir(caspl::test::tempDir()).filePath("x")});
        CHECK_RUN(two, 2);
        QVERIFY2(two.err.contains("--run-dir names one run folder"), qPrintable(two.err));
        const auto presets = runCaspl({"run", "no_such_preset", "--presets", QDir(caspl::test::tempDir()).filePath("nowhere")});
        QVERIFY2(presets.exitCode == 3 && presets.err.contains("nowhere"), qPrintable(presets.err));  // accepted, then not found
    }

    void validateReportsProblemsWithPositions() {
        const QString file = writeTemp("bad/exp.yaml", "method:\n  name: coop\ndata:\n  datasets: [OxfordPets]\n"
                                                       "train:\n  lrr: 0.1\n  epochs: abc\n");
        const auto r = runCaspl({"validate", file});
        CHECK_RUN(r, 3);
        QVERIFY2(r.err.contains(file + ":6:3: train.lrr: unknown key 'lrr' in train; did you mean 'lr'?"), qPrintable(r.err));
        QVERIFY2(r.err.contains(file + ":7:11: train.epochs: expected an integer, got 'abc'"), qPrintable(r.err));
        QVERIFY(r.err.contains("2 problems"));

        const auto o = runCaspl({"validate", "demo", "--set", "train.lrr=1"});
        CHECK_RUN(o, 3);
        QVERIFY2(o.err.contains("--set train.lrr=1: train.lrr: unknown key 'lrr' in train; did you mean 'lr'?"),
                 qPrintable(o.err));

        const auto n = runCaspl({"validate", "base2novel/promptsrc_casp/dtd"});
        CHECK_RUN(n, 3);
        QVERIFY2(n.err.contains("did you mean 'base2novel/promptsrc_caspl/dtd'?"), qPrintable(n.err));

        const auto shortRun = runCaspl({"validate", "demo", "--set", "train.epochs=1"});
        CHECK_RUN(shortRun, 3);
        QVERIFY2(shortRun.err.contains(QRegularExpression(
                     "common\\.yaml:\\d+:\\d+: train\\.warmup_epochs: must be below train\\.epochs \\(1\\), got 1")),
                 qPrintable(shortRun.err));
        QVERIFY(runCaspl({"validate", "demo", "--set", "train.epochs=1", "--set", "train.warmup_epochs=0"}).exitCode == 0);

        const auto missing = runCaspl({"validate"});
        CHECK_RUN(missing, 2);
    }

    void presetsFolderFromOptionAndEnvironment() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("mypresets");
        writeTemp("mypresets/base.yaml", "# base\nabstract: true\nmethod: {name: coop}\n");
        writeTemp("mypresets/lab/mine.yaml",
                  "# mine\nextends: [../base.yaml]\ndescription: my lab's run\ndata: {datasets: [EuroSAT]}\n");
        const auto r = runCaspl({"presets", "list", "--presets", dir});
        CHECK_RUN(r, 0);
        QVERIFY2(r.out.contains("lab/mine  my lab's run"), qPrintable(r.out));
        QVERIFY(!r.out.contains("base2novel"));

        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("CASPL_PRESETS", dir);
        env.insert("CASPL_PRESETS_KEEP", "1");
        const auto e = runCaspl({"validate", "lab/mine"}, env);
        CHECK_RUN(e, 0);
        QVERIFY(e.out.contains("ok: lab/mine is valid"));

        env.insert("CASPL_PRESETS", dir + "/absent");
        const auto bad = runCaspl({"presets", "list"}, env);
        CHECK_RUN(bad, 3);
        QVERIFY(bad.err.contains("CASPL_PRESETS"));
        const auto badOpt = runCaspl({"presets", "list", "--presets", dir + "/absent"});
        CHECK_RUN(badOpt, 3);
    }
};

CASPL_REGISTER_TEST(PresetsCliTest);
#include "test_cli_presets.moc"
