// Results as a paper's tables (core/experiment/paper_table): per-dataset base-to-novel tables with the average
// first, one all-classes table with an average column, bold best values (ties too), names as the papers write them,
// Markdown and LaTeX with their special characters escaped.
#include "made_data.h"
#include "test_support.h"

#include "core/experiment/paper_table.h"
#include "core/experiment/results.h"
#include "core/util/error.h"

#include <string>
#include <vector>

using namespace caspl;

namespace {

ResultRecord rec(const std::string& dataset, const std::string& method, int shots, int seed, const std::string& split, int correct) {
    return caspl::test::resultRecord(dataset, method, shots, seed, split, correct);
}

}  // namespace

class PaperTableTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void names() {
        QCOMPARE(paperMethodName("coop+caspl"), std::string("CoOp + CasPL"));
        QCOMPARE(paperMethodName("zeroshot"), std::string("CLIP"));
        QCOMPARE(paperMethodName("promptsrc+caspl [lr=0.01]"), std::string("PromptSRC + CasPL [lr=0.01]"));
        QCOMPARE(paperMethodName("mine"), std::string("mine"));
        QCOMPARE(paperDatasetName("DescribableTextures"), std::string("DTD"));
        QCOMPARE(paperDatasetName("OxfordFlowers"), std::string("Flowers102"));
        QCOMPARE(paperDatasetName("EuroSAT"), std::string("EuroSAT"));
        QVERIFY(parseTableFormat("latex") == TableFormat::Latex);
        ExperimentSpec spec;
        spec.data.datasets = {"ImageNet"};
        QVERIFY(tableSources(spec).empty());  // base-to-novel: trains and tests on the same datasets
        spec.data.evalDatasets = {"ImageNet", "DescribableTextures"};
        QCOMPARE(tableSources(spec), std::vector<std::string>{"ImageNet"});
        QVERIFY_THROWS_EXCEPTION(Error, parseTableFormat("html"));
    }

    // Two methods on two datasets, two seeds: the average table, then one per dataset; means over seeds.
    void baseToNovelTables() {
        std::vector<ResultRecord> r;
        for (int seed : {1, 2}) {
            r.push_back(rec("DescribableTextures", "coop", 16, seed, "base", seed == 1 ? 80 : 82));  // mean 81
            r.push_back(rec("DescribableTextures", "coop", 16, seed, "novel", 40));
            r.push_back(rec("DescribableTextures", "coop+caspl", 16, seed, "base", 81));
            r.push_back(rec("DescribableTextures", "coop+caspl", 16, seed, "novel", 60));
            r.push_back(rec("EuroSAT", "coop", 16, seed, "base", 90));
            r.push_back(rec("EuroSAT", "coop", 16, seed, "novel", 50));
            r.push_back(rec("EuroSAT", "coop+caspl", 16, seed, "base", 90));
            r.push_back(rec("EuroSAT", "coop+caspl", 16, seed, "novel", 80));
        }
        const ResultsSummary s = summarizeResults(r, Rounding::None);
        const std::string md = paperTablesText(s, TableFormat::Markdown);
        // Average: CoOp 85.50 / 45.00 / HM 58.97; CasPL 85.50 / 70.00 / 76.98: a tie in Base, both bold.
        QCOMPARE(QString::fromStdString(md),
                 QString("| Average over 2 datasets | Base | Novel | HM |\n"
                         "|---|---:|---:|---:|\n"
                         "| CoOp | **85.50** | 45.00 | 58.97 |\n"
                         "| CoOp + CasPL | **85.50** | **70.00** | **76.98** |\n"
                         "\n"
                         "| DTD | Base | Novel | HM |\n"
                         "|---|---:|---:|---:|\n"
                         "| CoOp | **81.00** | 40.00 | 53.55 |\n"
                         "| CoOp + CasPL | **81.00** | **60.00** | **68.94** |\n"
                         "\n"
                         "| EuroSAT | Base | Novel | HM |\n"
                         "|---|---:|---:|---:|\n"
                         "| CoOp | **90.00** | 50.00 | 64.29 |\n"
                         "| CoOp + CasPL | **90.00** | **80.00** | **84.71** |\n"));
        // A lone row is never bold.
        const std::string one = paperTablesText(summarizeResults({rec("DTD", "coop", 16, 1, "base", 70), rec("DTD", "coop", 16, 1, "novel", 60)},
                                                                 Rounding::None),
                                                TableFormat::Markdown);
        QVERIFY2(one.find("**") == std::string::npos, one.c_str());
        QVERIFY(paperTablesText(ResultsSummary{}, TableFormat::Markdown).empty());
    }

    // --with-reference: the published numbers after the row they belong to, never bold; the average's where every
    // dataset averaged has them.
    void publishedRows() {
        std::vector<ResultRecord> r{rec("DescribableTextures", "coop+caspl", 16, 1, "base", 80), rec("DescribableTextures", "coop+caspl", 16, 1, "novel", 50),
                                    rec("DescribableTextures", "coop", 16, 1, "base", 79), rec("DescribableTextures", "coop", 16, 1, "novel", 40),
                                    rec("EuroSAT", "coop+caspl", 16, 1, "base", 90), rec("EuroSAT", "coop+caspl", 16, 1, "novel", 80)};
        ResultsSummary s = summarizeResults(r, Rounding::None);
        ReferenceResult dtd;
        dtd.dataset = "DescribableTextures";
        dtd.method = "coop+caspl";
        dtd.shots = 16;
        dtd.base = 82.57;
        dtd.novel = 54.23;
        dtd.hm = 65.47;
        ReferenceResult euro = dtd;
        euro.dataset = "EuroSAT";
        euro.base = 94.80;
        euro.novel = 82.23;
        euro.hm = 88.07;
        attachReferences(s, {dtd, euro});
        PaperTableOptions with;
        with.withReference = true;
        const std::string md = paperTablesText(s, TableFormat::Markdown, with);
        QVERIFY2(md.find("| DTD | Base | Novel | HM |\n|---|---:|---:|---:|\n"
                         "| CoOp + CasPL | **80.00** | **50.00** | **61.54** |\n"
                         "| CoOp + CasPL (published) | 82.57 | 54.23 | 65.47 |\n"
                         "| CoOp | 79.00 | 40.00 | 53.11 |\n") != std::string::npos,
                 md.c_str());
        // The average of the two published rows (base and novel averaged, the HM of the averages).
        QVERIFY2(md.find("| CoOp + CasPL (published) | 88.69 | 68.23 | 77.12 |\n") != std::string::npos, md.c_str());
        QVERIFY(paperTablesText(s, TableFormat::Markdown).find("published") == std::string::npos);
    }

    // Runs of different kinds together: a base-to-novel run and a cross-dataset run of the same method and K (one
    // group per dataset then holds base, novel and all), rows averaging different datasets, a source dataset.
    void mixedRunsKeepEveryResult() {
        std::vector<ResultRecord> r{
            // base-to-novel: CoOp on DTD and EuroSAT, CasPL on DTD and Flowers
            rec("DescribableTextures", "coop", 16, 1, "base", 80), rec("DescribableTextures", "coop", 16, 1, "novel", 40),
            rec("EuroSAT", "coop", 16, 1, "base", 90), rec("EuroSAT", "coop", 16, 1, "novel", 60),
            rec("DescribableTextures", "coop+caspl", 16, 1, "base", 81), rec("DescribableTextures", "coop+caspl", 16, 1, "novel", 50),
            rec("OxfordFlowers", "coop+caspl", 16, 1, "base", 95), rec("OxfordFlowers", "coop+caspl", 16, 1, "novel", 70),
            // cross-dataset: CoOp trained on ImageNet, tested on ImageNet, DTD and EuroSAT (all classes)
            rec("ImageNet", "coop", 16, 2, "all", 70), rec("DescribableTextures", "coop", 16, 2, "all", 45),
            rec("EuroSAT", "coop", 16, 2, "all", 48)};
        const ResultsSummary s = summarizeResults(r, Rounding::None);
        PaperTableOptions o;
        o.sources = {"ImageNet"};
        const std::string md = paperTablesText(s, TableFormat::Markdown, o);
        // Two average tables, each naming its datasets; no row is compared with an average over other datasets.
        QVERIFY2(md.find("| Average of DTD, EuroSAT | Base | Novel | HM |\n|---|---:|---:|---:|\n| CoOp | 85.00 | 50.00 | 62.96 |\n\n") !=
                     std::string::npos,
                 md.c_str());
        QVERIFY2(md.find("| Average of DTD, Flowers102 | Base | Novel | HM |\n|---|---:|---:|---:|\n| CoOp + CasPL | 88.00 | 60.00 | 71.35 |\n\n") !=
                     std::string::npos,
                 md.c_str());
        // The all-classes results are kept: ImageNet (the source) first, the average over the targets only.
        QVERIFY2(md.find("| Method | ImageNet | DTD | EuroSAT | Average |\n|---|---:|---:|---:|---:|\n| CoOp | 70.00 | 45.00 | 48.00 | 46.50 |\n") !=
                     std::string::npos,
                 md.c_str());
        // Without the source named, every column is averaged.
        QVERIFY2(paperTablesText(s, TableFormat::Markdown).find("| Method | DTD | EuroSAT | ImageNet | Average |") != std::string::npos &&
                     paperTablesText(s, TableFormat::Markdown).find("| CoOp | 45.00 | 48.00 | 70.00 | 54.33 |") != std::string::npos,
                 paperTablesText(s, TableFormat::Markdown).c_str());
    }

    void labelsAndEscaping() {
        const ResultsSummary s = summarizeResults({rec("D", "coop [a<b>|c~]", 1, 1, "all", 50), rec("D", "[x] coop", 2, 1, "all", 60)}, Rounding::None);
        const std::string tex = paperTablesText(s, TableFormat::Latex);
        QVERIFY2(tex.find("CoOp [a\\textless{}b\\textgreater{}\\textbar{}c\\textasciitilde{}] (1 shot) & 50.00 \\\\\n") != std::string::npos, tex.c_str());
        QVERIFY2(tex.find("\n{}[x] coop (2 shots) & \\textbf{60.00}") != std::string::npos, tex.c_str());
        const std::string md = paperTablesText(s, TableFormat::Markdown);
        QVERIFY2(md.find("| CoOp [a<b>\\|c~] (1 shot) | 50.00 |") != std::string::npos, md.c_str());
    }

    // All classes (cross-dataset, few-shot): one table, a column per dataset, the average where every row has one;
    // rows per K when there are several; LaTeX escaping of a sweep's run label.
    void allClassesTableAndLatex() {
        std::vector<ResultRecord> r{rec("ImageNetV2", "coop", 16, 1, "all", 64), rec("ImageNetSketch", "coop", 16, 1, "all", 47),
                                    rec("ImageNetV2", "coop", 4, 1, "all", 60), rec("ImageNetSketch", "coop", 4, 1, "all", 50)};
        const ResultsSummary s = summarizeResults(r, Rounding::None);
        QCOMPARE(QString::fromStdString(paperTablesText(s, TableFormat::Markdown)),
                 QString("| Method | ImageNetV2 | ImageNetSketch | Average |\n"
                         "|---|---:|---:|---:|\n"
                         "| CoOp (16 shots) | **64.00** | 47.00 | **55.50** |\n"
                         "| CoOp (4 shots) | 60.00 | **50.00** | 55.00 |\n"));
        ResultsSummary labelled = summarizeResults({rec("EuroSAT", "coop [run_a&b_1%]", 16, 1, "base", 90), rec("EuroSAT", "coop [run_a&b_1%]", 16, 1, "novel", 50),
                                                    rec("EuroSAT", "coop", 16, 1, "base", 80), rec("EuroSAT", "coop", 16, 1, "novel", 70)},
                                                   Rounding::None);
        QCOMPARE(QString::fromStdString(paperTablesText(labelled, TableFormat::Latex)),
                 QString("\\begin{tabular}{lccc}\n"
                         "\\toprule\n"
                         "EuroSAT & Base & Novel & HM \\\\\n"
                         "\\midrule\n"
                         "CoOp [run\\_a\\&b\\_1\\%] & \\textbf{90.00} & 50.00 & 64.29 \\\\\n"
                         "CoOp & 80.00 & \\textbf{70.00} & \\textbf{74.67} \\\\\n"
                         "\\bottomrule\n"
                         "\\end{tabular}\n"));
    }
};

CASPL_REGISTER_TEST(PaperTableTest);
#include "test_paper_table.moc"
