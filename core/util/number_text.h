#pragma once
// Numbers as text for tables, the same in every front end and every locale.
#include <charconv>
#include <string>

namespace caspl {

// `v` with `decimals` digits after the point, correctly rounded from its exact binary value: ties go to even, as
// printf("%.2f") and Python's "{:.2f}" round (12.125 -> "12.12", 0.375 -> "0.38"); always a point, whatever the C
// library's or Qt's locale. Qt's QString::number(v, 'f', 2) rounds such ties away from zero ("12.13"), so a front end
// that used it would show a figure one hundredth away from results.csv, `caspl status` and the paper tables.
inline std::string fixedText(double v, int decimals) {
    char buf[400];  // the longest fixed text of a double (1.8e308) with up to 60 decimals
    if (decimals < 0) decimals = 0;
    if (decimals > 60) decimals = 60;
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
    if (r.ec != std::errc()) return {};
    return std::string(buf, r.ptr);
}

}  // namespace caspl
