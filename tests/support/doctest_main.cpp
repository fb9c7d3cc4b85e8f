// The doctest entry point for every suite (tests/meson.build runs one suite per test).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
