#!/usr/bin/env python3
"""Runs the whole suite for each build directory given (unit tests, then the
integration tests against that build's binary; for a fuzz build, every libFuzzer target
for SLUICE_FUZZ_SECONDS) and ends with one line: "N passed, N failed". Exit status 1
when anything failed."""

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def unit_tests(build):
    """Runs every unit test executable meson knows, counting cmocka's verdicts."""
    tests = json.loads(subprocess.check_output(["meson", "introspect", "--tests", build],
                                               cwd=ROOT))
    passed = failed = 0
    for t in tests:
        if "unit" not in t.get("suite", []) and not any(s.endswith(":unit") for s in t.get("suite", [])):
            continue
        env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout")
        env.update(t.get("env", {}))
        proc = subprocess.run(t["cmd"], capture_output=True, text=True, env=env, cwd=ROOT)
        out = proc.stdout + proc.stderr
        ok = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
        bad = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
        if proc.returncode != 0 and bad == 0:
            bad = 1  # crashed (sanitizer, abort) before cmocka could count
        if bad:
            sys.stdout.write(out)
        print(f"  unit {t['name']}: {ok} passed, {bad} failed", flush=True)
        passed += ok
        failed += bad
    return passed, failed


# Under valgrind every server start costs about a second, so CI runs memcheck over the
# request-handling and hostile-input suites; the whole suite is run the same way by hand
# (SLUICE_VALGRIND=1, see README).
VALGRIND_SUITES = ["test/integration/test_http_core.py", "test/integration/test_hostile.py"]

# The sanitizer build runs every suite but these, which spend their time waiting on
# something other than sluice's memory handling (the kernel's pacing, real docs
# generators and a browser, at-speed load that the sanitizer only slows), so that CI
# stays within its 15 minutes; the plain build runs them all.
ASAN_SKIPPED = ["test/integration/test_rate.py", "test/integration/test_docsites.py",
                "test/integration/test_browser.py", "test/integration/test_load.py"]


def integration_tests(build, label, valgrind=False):
    """Runs pytest over test/integration against build/sluice; counts from its JUnit XML."""
    report = ROOT / build / f"integration-{label}.xml"
    env = dict(os.environ, SLUICE_BIN=str(ROOT / build / "sluice"),
               SLUICE_ARTIFACTS=str(ROOT / "test" / "artifacts" / label),
               SLUICE_BUILD_LABEL=label)
    if valgrind:
        env["SLUICE_VALGRIND"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           f"--junitxml={report}"] + (VALGRIND_SUITES if valgrind else ["test/integration"])
    if label == "asan":
        cmd += [f"--ignore={suite}" for suite in ASAN_SKIPPED]
    cmd += os.environ.get("SLUICE_PYTEST_ARGS", "").split()
    start = time.time()
    subprocess.run(cmd, cwd=ROOT, env=env)
    if report.exists() and report.stat().st_mtime < start:
        report.unlink()
    if not report.exists():
        return 0, 1
    suite = ET.parse(report).getroot()
    if suite.tag == "testsuites":
        suite = suite[0]
    total = int(suite.get("tests", 0))
    bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    return total - bad - skipped, bad


def fuzz_targets(build, seconds):
    """Replays the saved regressions, then fuzzes each libFuzzer target for `seconds`,
    two at a time (one per core). A target passes when nothing crashed."""
    targets = ["request", "range", "cond", "path"]
    procs = []
    passed = failed = 0
    for i in range(0, len(targets), 2):
        batch = [(t, subprocess.Popen(["test/fuzz/run", build, str(seconds), t], cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
                 for t in targets[i:i + 2]]
        for t, proc in batch:
            out, _ = proc.communicate()
            summary = [l for l in out.splitlines() if l.startswith(f"{t}:")]
            print("  fuzz " + (summary[-1] if summary else f"{t}: no output"), flush=True)
            if proc.returncode == 0:
                passed += 1
            else:
                sys.stdout.write(out)
                failed += 1
    return passed, failed


def main(builds):
    passed = failed = 0
    fuzz_seconds = int(os.environ.get("SLUICE_FUZZ_SECONDS", "30"))
    for build in builds:
        if "fuzz" in build:
            print(f"== {build}: fuzzing each target for {fuzz_seconds}s", flush=True)
            p, f = fuzz_targets(build, fuzz_seconds)
            passed, failed = passed + p, failed + f
            continue
        label = "asan" if "asan" in build else "plain"
        start = time.monotonic()
        print(f"== {build}: unit tests", flush=True)
        p, f = unit_tests(build)
        passed, failed = passed + p, failed + f
        print(f"== {build}: integration tests", flush=True)
        p, f = integration_tests(build, label)
        passed, failed = passed + p, failed + f
        if label == "plain":
            print(f"== {build}: integration tests under valgrind memcheck "
                  f"({', '.join(Path(v).name for v in VALGRIND_SUITES)})", flush=True)
            p, f = integration_tests(build, "valgrind", valgrind=True)
            passed, failed = passed + p, failed + f
        print(f"== {build}: done in {time.monotonic() - start:.0f}s", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["build"]))
