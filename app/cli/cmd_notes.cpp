// `caspl notes`: read or write what a researcher notes about runs (a free-text note and tags, notes.json).
#include "app/cli/cli.h"
#include "core/engine/run_status.h"
#include "core/experiment/run_notes.h"
#include "core/util/error.h"

#include <algorithm>
#include <iostream>
#include <memory>

namespace caspl::cli {

std::vector<std::string> tagsOption(const std::string& option, const std::vector<std::string>& values) {
    std::vector<std::string> out;
    try {
        for (const auto& v : values) {
            auto tags = parseTags(v);
            // "" or ",,": no tag at all, which would select every run (or change nothing) without a word.
            if (tags.empty()) throw Error("'" + v + "' names no tag (expected TAG or TAG,TAG,...)");
            for (auto& t : tags) out.push_back(std::move(t));
        }
    } catch (const Error& e) {
        throw UsageError(option + ": " + e.what());
    }
    return out;
}

void addNotesCommand(CLI::App& app, Action* action) {
    struct Args {
        std::vector<std::string> runs, tags, untags;
        std::string note;
        bool clear = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "notes",
        "A run's note and tags (as W&B's run notes and tags), kept in its notes.json: without options, print them; "
        "`caspl status --tag` and `caspl export --runs --tag` select runs by them");
    cmd->add_option("runs", a->runs, "Run folders, or folders holding them")->required();
    auto* note = cmd->add_option("--note", a->note, "Replace the note with this text (\"\" removes it)");
    oneValueEach(cmd->add_option("--tag", a->tags, "Add a tag (repeatable, or a comma-separated list)")->type_name("TAG"));
    oneValueEach(cmd->add_option("--untag", a->untags, "Remove a tag (repeatable, or a comma-separated list)")->type_name("TAG"));
    auto* clear = cmd->add_flag("--clear", a->clear, "Remove the note and every tag");
    clear->excludes(note);
    clear->excludes("--tag");
    clear->excludes("--untag");
    cmd->callback([action, a, note] {
        *action = [a, note] {
            const std::vector<std::string> add = tagsOption("--tag", a->tags), remove = tagsOption("--untag", a->untags);
            for (const auto& t : add)
                if (std::find(remove.begin(), remove.end(), t) != remove.end())
                    throw UsageError("tag '" + t + "': both added (--tag) and removed (--untag)");
            const bool change = a->clear || note->count() > 0 || !add.empty() || !remove.empty();
            const std::vector<std::string> folders = findRunFolders(a->runs);
            // Every folder's notes are read before any is written: a malformed notes.json stops the command before
            // it has changed anything (--clear reads nothing: it is the way out of a malformed file).
            std::vector<RunNotes> current;
            for (const auto& folder : folders) current.push_back(a->clear ? RunNotes{} : readRunNotes(folder));
            for (std::size_t i = 0; i < folders.size(); ++i) {
                const std::string& folder = folders[i];
                RunNotes n = current[i];
                if (change)
                    // Applied to the file as it is when written (under its lock), not as read above: the studio
                    // may have written it since.
                    n = updateRunNotes(
                        folder,
                        [&](RunNotes& now) {
                            if (note->count() > 0) now.note = a->note;
                            applyTagEdit(now.tags, remove, add);
                        },
                        !a->clear);
                std::cout << folder << "\n  tags: " << (n.tags.empty() ? "-" : joinTags(n.tags)) << "\n";
                if (n.note.empty()) std::cout << "  note: -\n";
                else {
                    std::cout << "  note: ";
                    for (const char c : n.note) std::cout << c << (c == '\n' ? "        " : "");
                    std::cout << "\n";
                }
            }
            return kOk;
        };
    });
}

}  // namespace caspl::cli
