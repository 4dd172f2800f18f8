#include "core/experiment/run_notes.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

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

}  // namespace caspl
