#pragma once
// What a researcher writes about a run after the fact, as W&B's run notes and tags: a free-text note and a set of
// tags ("baseline", "paper-fig3", "diverged"), in the run folder's notes.json. A file of its own, not run.json: the
// run's process rewrites run.json while it runs, and a note may be written meanwhile (`caspl notes`, the studio's
// Runs tab). Not part of the experiment: no hash, no effect on resume. No LibTorch, no Qt.
#include <string>
#include <vector>

namespace caspl {

struct RunNotes {
    std::string note;               // free text, may span lines
    std::vector<std::string> tags;  // sorted, unique, each checked by checkTag
    bool empty() const { return note.empty() && tags.empty(); }
};

constexpr const char* kRunNotesFile = "notes.json";

// A tag: 1 to 64 characters, no comma (the lists on the command line and in CSV cells are comma-separated), no
// control character, not starting or ending with a space. Throws caspl::Error naming the tag and what is wrong.
void checkTag(const std::string& tag);
// "a, b" -> {"a", "b"}: split at commas, spaces around each trimmed, empty parts dropped, each checked.
std::vector<std::string> parseTags(const std::string& list);
std::string joinTags(const std::vector<std::string>& tags);  // "a, b"

// The folder's notes; empty when it has no notes.json. Throws caspl::Error naming the file for a malformed one.
RunNotes readRunNotes(const std::string& runDir);
// Writes notes.json atomically (tags sorted and made unique; each checked first); removes the file when the notes
// are empty. Throws caspl::Error naming the file when it cannot be written.
void writeRunNotes(const std::string& runDir, RunNotes notes);

}  // namespace caspl
