#pragma once
// Whole-file reading through zlib's gzread, which also reads a file that is not gzip-compressed as it is.
#include <string>

namespace caspl {

// The decompressed content of `path`. Errors name the file and end with "; expected <expected>" (what the caller
// wanted there, e.g. "OpenAI's bpe_simple_vocab_16e6.txt.gz"); `missingAdvice`, when given, follows a missing
// file's message (how to get it).
std::string readGzipFile(const std::string& path, const std::string& expected, const std::string& missingAdvice = "");

}  // namespace caspl
