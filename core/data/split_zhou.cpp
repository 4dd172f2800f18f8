#include "core/data/split_zhou.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include <climits>
#include <sstream>

namespace caspl {

namespace {

using nlohmann::json;

std::string entryName(const std::string& source, const char* key, size_t index) {
    return source + ": \"" + key + "\"[" + std::to_string(index) + "]";
}

std::vector<Datum> convertList(const json& root, const char* key, bool required, const std::string& source,
                               const std::string& imageDir) {
    std::vector<Datum> out;
    auto it = root.find(key);
    if (it == root.end()) {
        if (required)
            throw Error(source + ": missing key \"" + key +
                        "\" (expected a list of [impath, label, classname] entries)");
        return out;
    }
    if (!it->is_array())
        throw Error(source + ": \"" + key + "\" must be a list of [impath, label, classname] entries, found " +
                    it->type_name());
    out.reserve(it->size());
    size_t index = 0;
    for (const auto& e : *it) {
        if (!e.is_array() || e.size() != 3)
            throw Error(entryName(source, key, index) + ": expected [impath, label, classname], found " +
                        e.dump().substr(0, 200));
        if (!e[0].is_string() || e[0].get_ref<const std::string&>().empty())
            throw Error(entryName(source, key, index) + ": impath must be a non-empty string, found " +
                        e[0].dump().substr(0, 200));
        if (!e[1].is_number_integer())
            throw Error(entryName(source, key, index) + ": label must be an integer, found " +
                        e[1].dump().substr(0, 200));
        if (e[1].is_number_unsigned() ? e[1].get<uint64_t>() > uint64_t(INT_MAX)
                                      : (e[1].get<int64_t>() < 0 || e[1].get<int64_t>() > INT_MAX))
            throw Error(entryName(source, key, index) + ": label must be a 0-based class index, found " +
                        e[1].dump());
        if (!e[2].is_string())
            throw Error(entryName(source, key, index) + ": classname must be a string, found " +
                        e[2].dump().substr(0, 200));
        Datum d;
        d.impath = joinPath(imageDir, e[0].get<std::string>());
        d.label = int(e[1].get<int64_t>());
        d.classname = e[2].get<std::string>();
        out.push_back(std::move(d));
        ++index;
    }
    return out;
}

std::string quote(const std::string& s) {
    return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

void writeList(std::ostringstream& os, const char* key, const std::vector<Datum>& items, bool last) {
    os << "  " << quote(key) << ": [";
    for (size_t i = 0; i < items.size(); ++i) {
        const auto& d = items[i];
        os << (i ? ",\n    " : "\n    ") << '[' << quote(d.impath) << ", " << d.label << ", "
           << quote(d.classname) << ']';
    }
    os << (items.empty() ? "]" : "\n  ]") << (last ? "\n" : ",\n");
}

}  // namespace

std::string joinPath(const std::string& dir, const std::string& rel) {
    if (dir.empty() || (!rel.empty() && rel[0] == '/')) return rel;
    if (dir.back() == '/') return dir + rel;
    return dir + "/" + rel;
}

DatasetSplit parseSplitZhou(const std::string& jsonText, const std::string& source, const SplitZhouOptions& options) {
    json root;
    try {
        root = json::parse(jsonText);
    } catch (const json::parse_error& e) {
        throw Error(source + ": not valid JSON (" + e.what() + ")");
    }
    if (!root.is_object())
        throw Error(source + ": expected a JSON object with keys \"train\", \"val\" and \"test\", found " +
                    root.type_name());
    DatasetSplit split;
    split.train = convertList(root, "train", options.requireTrain, source, options.imageDir);
    split.val = convertList(root, "val", options.requireVal, source, options.imageDir);
    split.test = convertList(root, "test", options.requireTest, source, options.imageDir);
    return split;
}

DatasetSplit readSplitZhou(const std::string& path, const SplitZhouOptions& options) {
    return parseSplitZhou(readFile(path), path, options);
}

std::string splitZhouToJson(const DatasetSplit& split) {
    std::ostringstream os;
    os << "{\n";
    writeList(os, "train", split.train, false);
    writeList(os, "val", split.val, false);
    writeList(os, "test", split.test, true);
    os << "}\n";
    return os.str();
}

}  // namespace caspl
