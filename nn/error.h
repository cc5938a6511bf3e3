// The one error type of the library, at the bottom of the tree so every layer can raise it without
// depending on anything else: a one-line message that names the problem (and the file or tensor involved).
#pragma once
#include <stdexcept>

namespace ec {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace ec
