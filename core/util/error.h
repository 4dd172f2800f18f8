#pragma once
// The one exception type the engine throws for bad input (files, keys, configuration). Its message always names
// what was wrong (the file, the key or the line) and what was expected, so that front ends can show it as is.
#include <stdexcept>
#include <string>

namespace caspl {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace caspl
