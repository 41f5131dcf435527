#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Run Spark's own DStream test vectors (../shared/spark-examples/*.json) through the CLI.

Each case feeds input[i] as queueStream batch i+1 on the manual clock, runs num_batches
batches with print(), parses the printed batches and compares them with `expected`
(as multisets when order_matters is false). Every case also runs with the input cut
into 1 partition, 3 partitions and random partitions (three seeds): the printed text
must be identical whatever the cut (chunking invariance).

Cases whose operators belong to later issues (windows, state) are listed in LATER and
reported as skipped with the reason; a case missing from both tables fails the run, so
a new vector cannot be silently ignored.

usage: spark_examples.py SLUICE_BINARY EXAMPLES_DIR
"""
import json
import shutil
import os
import subprocess
import sys
import tempfile

# operation text in the vector -> pipeline text after the source (None: an error case)
OPS = {
    "count()": ".count()",
    "flatMap(x => Seq(x, x * 2))": ".flatMap(x => Seq(x, x * 2))",
    "map(_.toString)": ".map(_.toString)",
    "map(x => (x, 1)).reduceByKey(_ + _)": ".map(x => (x, 1)).reduceByKey(_ + _)",
    "s.union(s.map(_ + 4))": "UNION",
}
# vectors whose operation text is long (windows, state): file name -> pipeline, with {src}
# standing for the source. Scala's StateObject class of the lifecycle test becomes a
# (counter, expireCounter) tuple; Python's seconds become durations.
CASES = {
    "win_window_basic": "{src}.window(2s, 1s)",
    "win_window_larger": "{src}.window(4s, 2s)",
    "win_window_non_overlapping": "{src}.window(windowDuration = 2000ms, slideDuration = 3000ms)",
    "win_countByWindow": "{src}.countByWindow(Seconds(2), Seconds(1)).map(_.toInt)",
    "win_countByValueAndWindow": "{src}.countByValueAndWindow(2s, 1s).map(x => (x._1, x._2.toInt))",
    "win_reduceByKeyAndWindow_key_removed":
        "{src}.reduceByKeyAndWindow((x: Int, y: Int) => x + y, 2s, 1s)",
    "win_reduceByKeyAndWindowInv_big_test":
        "{src}.reduceByKeyAndWindow(_ + _, _ - _, 2s, 1s).checkpoint(100s)",
    "win_reduceByKeyAndWindowInv_key_removed":
        "{src}.reduceByKeyAndWindow(_ + _, _ - _, 2s, 1s).checkpoint(100s)",
    "win_reduceByKeyAndWindowWithFilter_big_test":
        "{src}.reduceByKeyAndWindow(_ + _, _ - _, 2s, 1s, filterFunc = p => p._2 != 0)"
        ".persist().checkpoint(100s)",
    "py_window": "{src}.window(1500ms, 500ms).count()",
    "py_group_by_key_and_window": "{src}.groupByKeyAndWindow(1500ms, 500ms)",
    "py_reduce_by_key_and_window_with_none_invFunc":
        "{src}.map(x => (x, 1)).reduceByKeyAndWindow(_ + _, 5s, 1s).filter(_._2 > 0).count()",
    "basic_updateStateByKey":
        "{src}.map(x => (x, 1)).updateStateByKey((values, state) => "
        "Some(values.sum + state.getOrElse(0)))",
    "basic_updateStateByKey_initial_simple":
        "{src}.map(x => (x, 1)).updateStateByKey((values, state) => "
        "Some(values.sum + state.getOrElse(0)), 2, initialRDD = sc.makeRDD(Seq((\"a\", 1), (\"c\", 2))))",
    "basic_updateStateByKey_object_lifecycle":
        "{src}.map(x => (x, 1)).updateStateByKey((values, state) => {\n"
        "  val s = state.getOrElse((0, 0))      // (counter, expireCounter)\n"
        "  if (values.sum == 0) { if (s._2 + 1 == 2) None else Some((s._1, s._2 + 1)) }\n"
        "  else Some((s._1 + values.sum, 0))\n"
        "}).mapValues(_._1)",
    "basic_updateStateByKey_timestamps":
        "{src}.map(x => (x, 1)).updateStateByKey((time, key, values, state) => "
        "if (values.size > 0) Some(time + state.getOrElse(0)) else Some(state.getOrElse(0)), 2, "
        "initialRDD = Seq((\"a\", 0), (\"c\", 0)))",
    "mws_initial_states":
        "val m = {src}.map(x => (x, 1)).mapWithState(StateSpec.function("
        "(time, key, value, state) => {\n"
        "  val sum = value.getOrElse(0) + state.getOption.getOrElse(0)\n"
        "  state.update(sum)\n"
        "  None\n"
        "}).initialState(sc.makeRDD(Seq((\"a\", 5), (\"b\", 10), (\"c\", -20), (\"d\", 0)))))\n"
        "m.print(1000000); m.stateSnapshots().print(1000000)",
    "mws_state_timing_out":
        "val m = {src}.map(x => (x, 1)).mapWithState(StateSpec.function("
        "(time, key, value, state) => {\n"
        "  if (value.isDefined) state.update(1)\n"
        "  if (state.isTimingOut) Some(key) else None\n"
        "}).timeout(3000ms))\n"
        "m.print(1000000); m.stateSnapshots().print(1000000)",
}
LATER = ()


def scala(v):
    """Scala toString of a JSON-encoded value (tuples are arrays)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "(" + ",".join(scala(x) for x in v) + ")"
    if v is None:
        return "None"
    return str(v)


def parse_print(text):
    """Split print() output into [(time, [lines])]."""
    out, lines, i = [], text.split("\n"), 0
    dash = "-" * 43
    while i < len(lines):
        if lines[i] == dash and i + 2 < len(lines) and lines[i + 1].startswith("Time: "):
            t = int(lines[i + 1][6:-3])
            assert lines[i + 2] == dash, "bad header at line %d" % (i + 2)
            i += 3
            body = []
            while i < len(lines) and lines[i] != "":
                body.append(lines[i])
                i += 1
            out.append((t, body))
        i += 1
    return out


def run(sluice, pipeline, batches, batch_ms, workers=2):
    p = subprocess.run([sluice, "run", "--clock", "manual", "--workers", str(workers), "--no-pin",
                        "--batch", "%dms" % batch_ms, "--batches", str(batches), pipeline],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def fmt_group(v):
    """A (key, values) pair of groupByKeyAndWindow as sluice prints it."""
    return "(%s,CompactBuffer(%s))" % (scala(v[0]), ", ".join(scala(x) for x in v[1]))


CUTS = ("", ", partitions = 1", ", partitions = 3", ", partitions = -1, seed = 1",
        ", partitions = -1, seed = 2", ", partitions = -1, seed = 3")


def pipeline(name, op, src):
    if name in CASES:
        text = CASES[name].replace("{src}", src)
        return text if text.startswith("val ") else text + ".print(1000000)"
    if OPS[op] == "UNION":
        return "val s = %s\ns.union(s.map(_ + 4)).print(1000000)" % src
    return src + OPS[op] + ".print(1000000)"


def check_outputs(case, got, exp, fmt):
    """Compare outputs [(time, lines)] with expected batches; '' or a reason."""
    if len(got) < len(exp):
        return "only %d outputs, expected %d" % (len(got), len(exp))
    times = case.get("derived_output_times_ms")
    for k, (e, (t, lines)) in enumerate(zip(exp, got)):
        want = [fmt(x) for x in e]
        if times and t != times[k]:
            return "output %d at %d ms, expected %d" % (k, t, times[k])
        same = lines == want if case.get("order_matters") else sorted(lines) == sorted(want)
        if not same:
            return "output %d at %d ms: got %s, expected %s" % (k, t, lines, want)
    return ""


def invalid_windows(sluice, case, tmp):
    """py_reduce_by_invalid_window_error: each (window, slide) must fail when built."""
    q = os.path.join(tmp, "empty.jsonl")
    open(q, "w").close()
    for c in case["cases"]:
        pipe = ('queueStream("%s").map(x => (x, 1)).reduceByKeyAndWindow(_ + _, _ - _, %dms, %dms)'
                '.print()' % (q, round(c["window_s"] * 1000), round(c["slide_s"] * 1000)))
        rc, out, err = run(sluice, pipe, 1, case["batch_duration_ms"])
        if rc != 2 or "multiple of the slide duration" not in err:
            return "window %s s / slide %s s: expected a build error (exit 2), got %d: %s" % (
                c["window_s"], c["slide_s"], rc, err.strip())
    return ""


def main():
    sluice, exdir = sys.argv[1], sys.argv[2]
    passed = failed = skipped = 0
    tmp = tempfile.mkdtemp(prefix="sluice-spark-")
    for fname in sorted(os.listdir(exdir)):
        if not fname.endswith(".json"):
            continue
        name = fname[:-5]
        case = json.load(open(os.path.join(exdir, fname)))
        op = case.get("operation")
        if name == "py_reduce_by_invalid_window_error":
            why = invalid_windows(sluice, case, tmp)
            print("%s %s%s" % ("FAIL" if why else "PASS", fname, ": " + why if why else ""))
            passed += not why
            failed += bool(why)
            continue
        if op not in OPS and name not in CASES:
            print("FAIL %s: no mapping for operation %r" % (fname, op))
            failed += 1
            continue
        qpath = os.path.join(tmp, fname + ".jsonl")
        with open(qpath, "w") as f:
            for batch in case["input"]:
                f.write(json.dumps(batch) + "\n")
        nonempty = case["kind"] == "batch_io_nonempty_only"
        batches = case.get("num_batches") or (len(case["input"]) + 2 * len(case["expected"]) + 10)
        results = []
        for cut in CUTS:
            src = 'queueStream("%s"%s)' % (qpath, cut)
            results.append((cut,) + run(sluice, pipeline(name, op, src), batches,
                                        case["batch_duration_ms"]))
        why = ""
        base = results[0]
        for cut, rc, out, err in results[1:]:
            if (rc, out) != (base[1], base[2]):
                why = "output differs when the input is cut with '%s'" % cut
        rc, out, err = base[1], base[2], base[3]
        got = parse_print(out)
        exp = case.get("expected")
        fmt = fmt_group if name == "py_group_by_key_and_window" else scala
        if case["kind"] == "expect_error":
            if rc != 1 or "Could not generate RDD" not in err:
                why = "expected a failed batch (exit 1), got exit %d: %s" % (rc, err.strip())
            got = got[:len(exp)]
        elif rc != 0:
            why = "exit %d: %s" % (rc, err.strip())
        if not why and case["kind"] in ("batch_io_with_state", "assertion"):
            # two prints per batch, in registration order: mapped records, then snapshots
            mapped, snaps = got[0::2], got[1::2]
            if case["kind"] == "batch_io_with_state":
                why = check_outputs(case, mapped, exp, fmt) or check_outputs(
                    case, snaps, case["expected_state_snapshots"], fmt)
            else:
                flat = sorted(x for _, lines in mapped for x in lines)
                snapsets = [sorted(lines) for _, lines in snaps]
                for a in case["assertions"]:
                    w = a["what"]
                    if w.startswith("all mapped outputs"):
                        ok = flat == sorted(scala(x) for x in a["expected"])
                        got_a = flat
                    elif w.startswith("at least one state snapshot"):
                        want = sorted(scala(x) for x in a["expected"])
                        ok = want in snapsets
                        got_a = snapsets
                    elif w.startswith("the last"):
                        ok = bool(snapsets) and snapsets[-1] == sorted(scala(x) for x in a["expected"])
                        got_a = snapsets[-1:] if snapsets else []
                    else:
                        ok, got_a = False, "unknown assertion"
                    if not ok:
                        why = "%s: got %s, expected %s" % (w, got_a, a["expected"])
                        break
                # the timed-out keys are reported at the full-scan batch (10 s), not earlier
                if not why:
                    at = [t for t, lines in mapped if lines]
                    if at != [10000]:
                        why = "timed-out keys reported at %s ms, expected [10000]" % at
        elif not why:
            if nonempty:
                got = [g for g in got if g[1]]
            why = check_outputs(case, got, exp, fmt)
        print("%s %s%s" % ("FAIL" if why else "PASS", fname, ": " + why if why else ""))
        passed += not why
        failed += bool(why)
    shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
