// Replays fuzz inputs without libFuzzer: runs LLVMFuzzerTestOneInput (from the fuzz target
// linked in, tools/fuzz/<name>_fuzz.cpp) over every file in the directories or files named on
// the command line, in name order. A target aborts on a broken invariant, which fails the
// test; so the seed corpus and every crash input added to it stay fixed (tests/fuzz/meson.build).
//
// Exit status: 0 when every input ran, 1 on a usage error or when no input was found (an empty
// or missing corpus must not pass silently).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool run_file(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return false;
    }
    const std::vector<char> bytes{std::istreambuf_iterator<char>(file),
                                  std::istreambuf_iterator<char>()};
    // A copy of exactly the input's size, so a read past its end is an out-of-bounds read
    // under AddressSanitizer, as it is under libFuzzer.
    std::vector<std::uint8_t> input(bytes.begin(), bytes.end());
    // Named before it runs, so the log shows which input broke an invariant.
    std::printf("%s (%zu bytes)\n", path.c_str(), input.size());
    std::fflush(stdout);
    LLVMFuzzerTestOneInput(input.data(), input.size());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 1;
    }
    std::size_t ran = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path root(argv[i]);
        std::vector<std::filesystem::path> files;
        std::error_code error;
        if (std::filesystem::is_directory(root, error)) {
            for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
                if (entry.is_regular_file()) files.push_back(entry.path());
            }
            if (error) {
                std::fprintf(stderr, "cannot list %s: %s\n", root.c_str(), error.message().c_str());
                return 1;
            }
        } else {
            files.push_back(root);
        }
        std::sort(files.begin(), files.end());
        for (const auto& path : files) {
            if (!run_file(path)) return 1;
            ++ran;
        }
    }
    std::printf("ran %zu inputs\n", ran);
    if (ran == 0) {
        std::fprintf(stderr, "no inputs found\n");
        return 1;
    }
    return 0;
}
