// Helpers shared by the proto tests: byte vectors from hex, text as bytes, and scripted
// random sources that make padding draws deterministic.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include <sstream>

#include "proto/random_source.hpp"

// Print vectors in failure messages ("{1, 2, 3}") instead of doctest's "{?}".
namespace doctest {
template <typename T>
struct StringMaker<std::vector<T>> {
    static String convert(const std::vector<T>& values) {
        std::ostringstream out;
        out << "{";
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (i) out << ", ";
            if constexpr (sizeof(T) == 1) {
                out << static_cast<int>(values[i]);
            } else if constexpr (requires(std::ostream & o, const T& v) { o << v; }) {
                out << values[i];
            } else {
                out << "?";
            }
        }
        out << "}";
        return out.str().c_str();
    }
};
}  // namespace doctest

namespace anytls::proto::test {

using Bytes = std::vector<std::uint8_t>;

// "01 0a ff" or "010aff" -> {0x01, 0x0a, 0xff}; spaces are ignored.
inline Bytes hex(std::string_view text) {
    Bytes out;
    int high = -1;
    for (const char c : text) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            continue;
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(high * 16 + v));
            high = -1;
        }
    }
    return out;
}

inline Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

inline Bytes concat(std::initializer_list<std::span<const std::uint8_t>> parts) {
    Bytes out;
    for (auto part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
}

// Returns the listed values in turn (each reduced modulo the bound), cycling; records the
// bounds it was asked for.
struct ScriptedRandom {
    std::vector<std::uint64_t> values;
    std::vector<std::uint64_t> bounds;
    std::size_t next = 0;

    RandomSource source() {
        return [this](std::uint64_t bound) {
            bounds.push_back(bound);
            const std::uint64_t v = values.empty() ? 0 : values[next++ % values.size()];
            return v % bound;
        };
    }
};

// Always the smallest value of a range.
inline RandomSource zero_random() {
    return [](std::uint64_t) { return std::uint64_t{0}; };
}

}  // namespace anytls::proto::test
