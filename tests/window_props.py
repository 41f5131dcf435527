#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Property test: windows and state against a naive recompute from the retained batches.

For random inputs (keys, values, batches with no RDD), random window W and slide S (slide
larger than the window too) and random ways to cut each batch into partitions, every window
and state operator's output at every valid time must equal what a direct recompute of the
window (or of the whole history, for state) gives, following spark-semantics.md §2, §3, §6.

usage: window_props.py SLUICE_BINARY [TRIALS]
"""
import json
import os
import random
import subprocess
import sys
import tempfile

B = 1000


def parse_print(text):
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        if lines[i] == "-" * 43 and i + 2 < len(lines) and lines[i + 1].startswith("Time: "):
            t = int(lines[i + 1][6:-3])
            i += 3
            body = []
            while i < len(lines) and lines[i] != "":
                body.append(lines[i])
                i += 1
            out.append((t, body))
        i += 1
    return out


def run(sluice, pipe, nb, workers):
    p = subprocess.run([sluice, "run", "--clock", "manual", "--no-pin", "--workers", str(workers),
                        "--batch", "%dms" % B, "--batches", str(nb), pipe],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("exit %d: %s\n%s" % (p.returncode, p.stderr, pipe))
    return parse_print(p.stdout)


def window_batches(inp, t, W):
    """The input batches (lists) with times in (t - W, t]."""
    return [inp[k] for k in range(len(inp)) if inp[k] is not None and t - W < (k + 1) * B <= t]


def sums(batches):
    d = {}
    for b in batches:
        for k, v in b:
            d[k] = d.get(k, 0) + v
    return d


def pair(k, v):
    return "(%s,%s)" % (k, v)


def expected_windows(inp, nb, W, S):
    """Outputs per valid time, in the pipeline's print order."""
    out = []
    seen_keys, seen_any = set(), False
    # keys ever seen by the inverse form up to t (S <= W only: see the pipeline)
    for t in range(S, nb * B + 1, S):
        wb = window_batches(inp, t, W)
        recs = [r for b in wb for r in b]
        s = sums(wb)
        for k in range(len(inp)):
            if inp[k] is not None and (k + 1) * B <= t:
                seen_keys |= {kk for kk, _ in inp[k]}
                seen_any |= bool(inp[k])
        cnt = {}
        for k, _ in recs:
            cnt[k] = cnt.get(k, 0) + 1
        groups = {}
        for k, v in recs:
            groups.setdefault(k, []).append(v)
        o = [
            [pair(k, v) for k, v in recs],                                   # window
            [pair(k, v) for k, v in s.items()],                              # naive
            [pair(k, v) for k, v in s.items() if v != 0],                    # inverse + filter
            ["(%s,CompactBuffer(%s))" % (k, ", ".join(map(str, sorted(v))))  # groupByKeyAndWindow
             for k, v in groups.items()],
            [str(sum(v for _, v in recs))] if recs else [],                  # reduceByWindow
        ]
        # the inverse forms with S > W add and subtract batches outside the window, as
        # Spark's ReducedWindowedDStream does (spark_examples covers S <= W vectors)
        if S <= W:
            o.append([pair(k, s.get(k, 0)) for k in seen_keys])              # inverse, no filter
            o.append([str(len(recs))] if seen_any else [])                   # countByWindow
            o.append([pair(k, cnt.get(k, 0)) for k in cnt])                  # countByValueAndWindow
        out.append((t, o))
    return out


def expected_state(inp, nb):
    """(time, lines) prints: updateStateByKey (once it has a state or an RDD), then the
    mapWithState snapshot (every batch)."""
    out, st, started = [], {}, False
    for k in range(nb):
        b = inp[k] if k < len(inp) else []
        if b is not None:
            for key, v in b:
                st[key] = st.get(key, 0) + v
        started |= b is not None
        t = (k + 1) * B
        cur = sorted(pair(x, y) for x, y in st.items())
        if started:
            out.append((t, cur))
        out.append((t, cur))
    return out


def check(name, got, exp, nout):
    # group the prints: nout per valid time, in registration order
    if len(got) != len(exp) * nout:
        raise AssertionError("%s: %d prints, expected %d x %d" % (name, len(got), len(exp), nout))
    for i, (t, outs) in enumerate(exp):
        for j, want in enumerate(outs):
            gt, lines = got[i * nout + j]
            if gt != t:
                raise AssertionError("%s: output %d.%d at %d ms, expected %d" % (name, i, j, gt, t))
            if sorted(lines) != sorted(want):
                raise AssertionError("%s: output %d of time %d ms: got %s, expected %s" % (
                    name, j, t, sorted(lines), sorted(want)))


def main():
    sluice = sys.argv[1]
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    rng = random.Random(20261126)
    tmp = tempfile.mkdtemp(prefix="sluice-winprop-")
    for trial in range(trials):
        nin = rng.randint(3, 12)
        nkeys = rng.choice([1, 3, 8, 40])
        big = trial % 10 == 9  # many keys coming and going: the key dictionaries compact
        if big:
            nkeys = 100000
        inp = []
        for _ in range(nin):
            if rng.random() < 0.15:
                inp.append(None)
                continue
            inp.append([["k%d" % rng.randrange(nkeys), rng.randint(1, 9)]
                        for _ in range(3000 if big else rng.choice([0, 1, 3, 10, 50]))])
        if not any(inp):  # a file without records would make a String stream
            inp[0] = [["k0", 1]]
        W = rng.randint(1, 6) * B
        S = rng.randint(1, 4) * B
        nb = nin + rng.randint(0, 8)
        q = os.path.join(tmp, "t%d.jsonl" % trial)
        with open(q, "w") as f:
            for b in inp:
                f.write(("null" if b is None else json.dumps(b)) + "\n")
        cut = rng.choice(["", ", 1", ", 3", ", partitions = -1, seed = %d" % trial])
        workers = rng.choice([1, 2])
        w, s = "%dms" % W, "%dms" % S
        ops = [
            ".window(%s, %s)" % (w, s),
            ".reduceByKeyAndWindow(_ + _, %s, %s)" % (w, s),
            ".reduceByKeyAndWindow(_ + _, _ - _, %s, %s, filterFunc = _._2 != 0)" % (w, s)
            if S <= W else ".reduceByKeyAndWindow((a, b) => a + b, %s, %s)" % (w, s),
            ".groupByKeyAndWindow(%s, %s).mapValues(v => v)" % (w, s),
            ".map(_._2).reduceByWindow(math.max(_, 0) + _, %s, %s)" % (w, s),
        ]
        if S <= W:
            ops += [".reduceByKeyAndWindow(_ + _, (a, b) => a - b, %s, %s)" % (w, s),
                    ".countByWindow(%s, %s)" % (w, s),
                    ".map(_._1).countByValueAndWindow(%s, %s)" % (w, s)]
        pipe = "val s = queueStream(\"%s\"%s)\n" % (q, cut) + "\n".join(
            "s%s.print(100000)" % o for o in ops)
        exp = expected_windows(inp, nb, W, S)
        # groupByKeyAndWindow prints values in arrival order; the reference sorts them
        got = run(sluice, pipe.replace(".mapValues(v => v)", ""), nb, workers)
        for i in range(len(got)):
            if "CompactBuffer" in "".join(got[i][1]):
                got[i] = (got[i][0], [fix_group(x) for x in got[i][1]])
        try:
            check("trial %d (W=%d S=%d cut=%r workers=%d)" % (trial, W, S, cut, workers), got, exp,
                  len(ops))
            spipe = ("val s = queueStream(\"%s\"%s)\n"
                     "s.updateStateByKey((vs, st) => Some(vs.sum + st.getOrElse(0))).print(100000)\n"
                     "s.mapWithState(StateSpec.function((k, v, st) => {\n"
                     "  st.update(v.getOrElse(0) + st.getOption.getOrElse(0)); k\n"
                     "})).stateSnapshots().print(100000)" % (q, cut))
            got = [(t, sorted(lines)) for t, lines in run(sluice, spipe, nb, workers)]
            want = expected_state(inp, nb)
            if got != want:
                raise AssertionError("trial %d state: got %s, expected %s" % (trial, got, want))
        except AssertionError as e:
            print("FAIL", e)
            print("input:", json.dumps(inp))
            sys.exit(1)
    print("%d trials passed" % trials)


def fix_group(line):
    head, vals = line[:-2].split("CompactBuffer(", 1)
    nums = sorted(int(x) for x in vals.split(", ") if x)
    return "%sCompactBuffer(%s))" % (head, ", ".join(map(str, nums)))


if __name__ == "__main__":
    main()
