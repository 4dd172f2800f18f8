// caspl_bench_plots: what the studio's live plots (ui/plot_panel.h) cost on a long run, not a test. Feeds one run of
// S seeds x N/S steps, each step with C loss terms and a learning rate, a step every 50 ms of wall time, then prints
// as JSON lines: the time to take the points in, and for each x axis (steps continued, each seed from step 1, the
// seeds' mean and range, time since the start, wall-clock time) the time to place every point again (switching to
// it), to draw the three plots, and to answer one hover; then the drawing with outliers ignored and on a log scale.
//
//   QT_QPA_PLATFORM=offscreen caspl_bench_plots [--points N] [--terms C] [--seeds S]
#include "core/engine/events.h"
#include "ui/plot_panel.h"

#include <QApplication>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using caspl::ui::PlotPanel;

namespace {

double msSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void figure(const char* name, double ms, long long points) {
    std::printf("{\"figure\": \"%s\", \"ms\": %.2f, \"points\": %lld}\n", name, ms, points);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    long long points = 1000000;
    int terms = 3, seeds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--points")) points = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--terms")) terms = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--seeds")) seeds = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: caspl_bench_plots [--points N] [--terms C] [--seeds S]\n");
            return 2;
        }
    }
    if (points < 1 || terms < 1 || seeds < 1) {
        std::fprintf(stderr, "caspl_bench_plots: --points, --terms and --seeds must be at least 1\n");
        return 2;
    }
    QApplication app(argc, argv);
    PlotPanel panel;
    panel.resize(1400, 900);
    panel.show();  // laid out at that size: a hidden panel's plots keep Qt's default size
    QApplication::processEvents();
    panel.setRunLabel(1, "#1 bench");
    const long long stepsPerSeed = std::max(1LL, points / (seeds * (terms + 1)));
    const double t0 = 1796620800;
    auto start = std::chrono::steady_clock::now();
    long long fed = 0;
    QList<caspl::MetricEvent> batch;
    for (int seed = 1; seed <= seeds; ++seed)
        for (long long step = 1; step <= stepsPerSeed; ++step) {
            caspl::MetricEvent e;
            e.run = "bench";
            e.phase = "phase2";
            e.dataset = "dtd";
            e.shots = 16;
            e.seed = seed;
            e.epoch = 1;
            e.step = step;
            e.time = t0 + 0.05 * double((seed - 1) * stepsPerSeed + step);
            const double base = 2.0 / (1.0 + 0.001 * double(step)) + 0.1 * seed;
            e.values["loss"] = base;
            for (int c = 1; c < terms; ++c) e.values["loss.t" + std::to_string(c)] = base / (c + 1) + 0.01 * double(step % 7);
            e.values["lr"] = 0.002;
            fed += terms + 1;
            batch.append(e);
            if (batch.size() == 256) {  // as the studio's worker hands them over
                panel.addMetrics(1, batch);
                batch.clear();
            }
        }
    panel.addMetrics(1, batch);
    figure("append", msSince(start), fed);
    start = std::chrono::steady_clock::now();
    panel.flush();
    figure("draw.continue", msSince(start), fed);

    // Each axis with where its points start and how far they reach: the hovers land inside.
    const double seconds = 0.05 * double(seeds * stepsPerSeed);
    const struct {
        PlotPanel::StepAxis axis;
        const char* name;
        double origin, span;
    } axes[] = {{PlotPanel::StepAxis::Overlay, "overlay", 0, double(stepsPerSeed)},
                {PlotPanel::StepAxis::SeedMean, "seed_mean", 0, double(stepsPerSeed)},
                {PlotPanel::StepAxis::Relative, "relative", 0, seconds},
                {PlotPanel::StepAxis::Wall, "wall", t0, seconds},
                {PlotPanel::StepAxis::Continue, "continue", 0, double(seeds * stepsPerSeed)}};
    for (const auto& a : axes) {
        start = std::chrono::steady_clock::now();
        panel.setStepAxis(a.axis);
        panel.flush();  // SeedMean draws its means here
        const double place = msSince(start);
        start = std::chrono::steady_clock::now();
        panel.flush();
        const double draw = msSince(start);
        start = std::chrono::steady_clock::now();
        constexpr int kHovers = 20;
        std::size_t chars = 0;
        for (int h = 0; h < kHovers; ++h)  // from a quarter to nearly half of the way
            chars += std::size_t(panel.valuesAt(PlotPanel::Phase2Plot, a.origin + a.span * (0.25 + h / 80.0)).size());
        const double hover = msSince(start) / kHovers;
        if (chars == 0) std::fprintf(stderr, "caspl_bench_plots: the hover on %s found nothing\n", a.name);
        figure((std::string("place.") + a.name).c_str(), place, fed);
        figure((std::string("draw.") + a.name).c_str(), draw, fed);
        figure((std::string("hover.") + a.name).c_str(), hover, fed);
    }
    panel.setIgnoreOutliers(true);
    start = std::chrono::steady_clock::now();
    panel.flush();
    figure("draw.continue.ignore_outliers", msSince(start), fed);
    panel.setIgnoreOutliers(false);
    start = std::chrono::steady_clock::now();
    panel.setLogScale(true);
    panel.flush();
    figure("place_and_draw.continue.log_scale", msSince(start), fed);
    std::printf("{\"longest_redraw_of_one_plot_ms\": %.2f}\n", panel.maxReplotMs());
    return 0;
}
