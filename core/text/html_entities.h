#pragma once
// The HTML5 named character references (WHATWG list, 2,231 names), as Python's html.entities.html5 has them: the
// names without '&', with and without the trailing ';' (106 legacy names such as "amp" and "eacute" also exist
// without it), mapped to their UTF-8 text (one or two code points). Used by html unescaping in text_clean.cpp.
#include <cstddef>

namespace caspl::detail {

struct HtmlEntity {
    const char* name;
    const char* utf8;
};

extern const HtmlEntity kHtml5Entities[];
extern const std::size_t kHtml5EntityCount;

}  // namespace caspl::detail
