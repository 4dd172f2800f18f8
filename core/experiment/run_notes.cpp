#include "core/experiment/run_notes.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/number_text.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace caspl {

namespace fs = std::filesystem;

void checkTag(const std::string& tag) {
    const auto bad = [&tag](const std::string& why) { throw Error("tag '" + tag + "': " + why); };
    if (tag.empty()) bad("empty");
    if (tag.size() > 64) bad("longer than 64 characters");
    if (tag.find(',') != std::string::npos) bad("a tag holds no comma (commas separate tags)");
    for (const unsigned char c : tag)
        if (c < 0x20 || c == 0x7f) bad("a control character");
    if (tag.front() == ' ' || tag.back() == ' ') bad("starts or ends with a space");
}

std::vector<std::string> parseTags(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream in(list);
    std::string part;
    while (std::getline(in, part, ',')) {
        const auto b = part.find_first_not_of(" \t");
        if (b == std::string::npos) continue;
        const auto e = part.find_last_not_of(" \t");
        part = part.substr(b, e - b + 1);
        checkTag(part);
        out.push_back(part);
    }
    return out;
}

std::string joinTags(const std::vector<std::string>& tags) {
    std::string out;
    for (const auto& t : tags) out += (out.empty() ? "" : ", ") + t;
    return out;
}

RunNotes readRunNotes(const std::string& runDir) {
    const fs::path path = fs::path(runDir) / kRunNotesFile;
    RunNotes notes;
    std::error_code ec;
    if (!fs::exists(path, ec) && !ec) return notes;
    // A file that is there but cannot be read is an error, not "no notes": writing over it would lose them.
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path.string() + ": cannot be read: " + std::strerror(errno));
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) throw Error(path.string() + ": cannot be read: " + std::strerror(errno));
    try {
        const auto j = nlohmann::json::parse(text.str());
        if (!j.is_object()) throw Error("expected an object with \"note\" and \"tags\"");
        if (j.contains("note")) {
            if (!j["note"].is_string()) throw Error("\"note\": expected a string");
            notes.note = j["note"].get<std::string>();
        }
        if (j.contains("tags")) {
            if (!j["tags"].is_array()) throw Error("\"tags\": expected a list of strings");
            for (const auto& t : j["tags"]) {
                if (!t.is_string()) throw Error("\"tags\": expected a list of strings");
                checkTag(t.get<std::string>());
                notes.tags.push_back(t.get<std::string>());
            }
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(path.string() + ": not valid JSON (" + e.what() + ")");
    } catch (const Error& e) {
        throw Error(path.string() + ": " + e.what());
    }
    return notes;
}

void writeRunNotes(const std::string& runDir, RunNotes notes) {
    for (const auto& t : notes.tags) checkTag(t);
    std::sort(notes.tags.begin(), notes.tags.end());
    notes.tags.erase(std::unique(notes.tags.begin(), notes.tags.end()), notes.tags.end());
    const fs::path path = fs::path(runDir) / kRunNotesFile;
    if (notes.empty()) {
        std::error_code ec;
        fs::remove(path, ec);
        if (ec) throw Error(path.string() + ": cannot be removed: " + ec.message());
        return;
    }
    const nlohmann::json j{{"note", notes.note}, {"tags", notes.tags}};
    std::string text;
    try {
        text = j.dump(2) + "\n";
    } catch (const nlohmann::json::exception&) {
        throw Error(path.string() + ": the note or a tag is not valid UTF-8 text");
    }
    writeFileAtomically(path.string(), text);
}

namespace {

// An exclusive flock() on <runDir>/.notes.lock for one read-change-write of notes.json. flock() locks belong to the
// open file, so two writers of one process exclude each other as two processes do; the kernel drops the lock when
// its holder ends however it ends. Where no lock can be had for another reason than another writer holding it (a
// file system without flock(): Lustre without -o flock, NFS without its lock daemon; a lock file made by another
// user that this one cannot open), the write goes ahead unlocked, as it did before there was a lock: the rename of
// notes.json needs none, and refusing every note there would be worse than the rare race.
class NotesLock {
public:
    NotesLock(const std::string& runDir, int waitMs) {
        const std::string lockPath = (fs::path(runDir) / kRunNotesLockFile).string();
        fd_ = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);  // the umask decides who may share it
        if (fd_ < 0 && errno == EACCES) fd_ = ::open(lockPath.c_str(), O_RDONLY | O_CLOEXEC);  // flock() needs no write access
        if (fd_ < 0) return;
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
        while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if (err != EWOULDBLOCK) {  // not supported here: unlocked
                ::close(fd_);
                fd_ = -1;
                return;
            }
            if (std::chrono::steady_clock::now() >= until) {
                ::close(fd_);
                throw Error((fs::path(runDir) / kRunNotesFile).string() + ": cannot be written: another program has held its lock (" +
                            kRunNotesLockFile + ") for " + fixedText(waitMs / 1000.0, 1) + " s; try again");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    ~NotesLock() {
        if (fd_ >= 0) ::close(fd_);  // closing the file releases the lock
    }
    NotesLock(const NotesLock&) = delete;
    NotesLock& operator=(const NotesLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace

RunNotes updateRunNotes(const std::string& runDir, const std::function<void(RunNotes&)>& change, bool readCurrent, int waitMs) {
    const NotesLock lock(runDir, waitMs);
    RunNotes notes = readCurrent ? readRunNotes(runDir) : RunNotes{};
    change(notes);
    writeRunNotes(runDir, notes);
    return readRunNotes(runDir);
}

void applyTagEdit(std::vector<std::string>& tags, const std::vector<std::string>& before, const std::vector<std::string>& after) {
    const auto has = [](const std::vector<std::string>& v, const std::string& t) { return std::find(v.begin(), v.end(), t) != v.end(); };
    tags.erase(std::remove_if(tags.begin(), tags.end(), [&](const std::string& t) { return has(before, t) && !has(after, t); }),
               tags.end());
    // Only what the edit added: a tag kept in the edit but removed meanwhile by another writer stays removed.
    for (const auto& t : after)
        if (!has(before, t) && !has(tags, t)) tags.push_back(t);
}

}  // namespace caspl
