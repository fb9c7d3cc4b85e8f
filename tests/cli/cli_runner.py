"""The runner every script-style CLI test shares: runs a module's test_* functions in order,
reports each, and returns the exit code meson expects (0 all passed, 1 otherwise).

The scripts also run under pytest; this keeps them runnable with the standard library alone.
"""

import traceback


def run_tests(namespace):
    tests = [(name, fn) for name, fn in namespace.items() if name.startswith("test_") and callable(fn)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
        except Exception:  # an assertion or anything unexpected: report and go on
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
