#pragma once
// What a researcher writes about a run after the fact, as W&B's run notes and tags: a free-text note and a set of
// tags ("baseline", "paper-fig3", "diverged"), in the run folder's notes.json. A file of its own, not run.json: the
// run's process rewrites run.json while it runs, and a note may be written meanwhile (`caspl notes`, the studio's
// Runs tab). Not part of the experiment: no hash, no effect on resume. No LibTorch, no Qt.
#include <functional>
#include <string>
#include <vector>

namespace caspl {

struct RunNotes {
    std::string note;               // free text, may span lines
    std::vector<std::string> tags;  // sorted, unique, each checked by checkTag
    bool empty() const { return note.empty() && tags.empty(); }
};

constexpr const char* kRunNotesFile = "notes.json";
// Held (flock) while notes.json is read, changed and written by updateRunNotes; empty, and left in the folder.
constexpr const char* kRunNotesLockFile = ".notes.lock";

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

// Changes the folder's notes as `change` says, on notes.json as it is at that moment: the read, the change and the
// write happen under an exclusive lock on <runDir>/.notes.lock, so two writers at once (`caspl notes`, the studio,
// two studios) never lose each other's change (where the file system offers no lock, unlocked, as a plain write). With readCurrent false, `change` starts from empty notes and the file
// is not read (the way out of a malformed one). Returns the notes as written (tags sorted, unique). Throws
// caspl::Error as readRunNotes and writeRunNotes do, naming notes.json and the lock when the lock cannot be
// taken within waitMs (another writer holds it), or what `change` throws; nothing is written then.
RunNotes updateRunNotes(const std::string& runDir, const std::function<void(RunNotes&)>& change, bool readCurrent = true,
                        int waitMs = 10000);

// A tag list edited as a whole (the studio's tag cell: `before` shown, `after` typed) applied to `tags` as they are
// now: the tags the edit added (in `after`, not in `before`) are added, those it removed are removed, and what
// another writer changed meanwhile in the tags the edit left alone stays (a tag added there stays, one removed
// there stays removed).
void applyTagEdit(std::vector<std::string>& tags, const std::vector<std::string>& before, const std::vector<std::string>& after);

}  // namespace caspl
