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

// A job that started and then failed for a reason other than its input (training diverged: a loss that is not
// finite). Front ends report it as a failed run (the command line's exit code 1), not as bad input.
class RunFailed : public Error {
public:
    using Error::Error;
};

}  // namespace caspl
