#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of the sluice CLI: exit codes, error messages (what and where),
textFile batch jobs, saveAsTextFiles output, the demo, signals.

usage: cli.py SLUICE_BINARY
"""
import json
import shutil
import os
import signal
import subprocess
import sys
import tempfile
import time

S = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="sluice-cli-")
results = []


def sh(*args, timeout=60, cwd=TMP):
    p = subprocess.run([S] + list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    results.append(bool(cond))
    print("%s %s%s" % ("PASS" if cond else "FAIL", name, "" if cond else ": " + detail))


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def manual(pipe, n=3, *extra):
    return sh("run", "--clock", "manual", "--batches", str(n), "--no-pin", *extra, pipe)


write("words.jsonl", '["a b", "b c"]\n["c"]\n')
write("bad.jsonl", '[1, 2]\n[3, "x"]\n')
write("broken.jsonl", '[1, 2]\n[3, 4\n')

# --- help, version, usage errors (exit 2)
rc, out, err = sh("--help")
check("--help exits 0 and lists commands", rc == 0 and "run" in out and "demo" in out, out)
rc, out, err = sh("--version")
check("--version prints the version and the kernel ISA", rc == 0 and out.startswith("sluice ") and "kernels: " in out, out)
p = subprocess.run([S, "--version"], capture_output=True, text=True, env=dict(os.environ, SLUICE_ISA="scalar"))
check("SLUICE_ISA forces the kernels", p.returncode == 0 and "kernels: scalar" in p.stdout, p.stdout)
p = subprocess.run([S, "demo", "-n", "1"], capture_output=True, text=True, env=dict(os.environ, SLUICE_ISA="avx9"))
check("an unknown SLUICE_ISA is a clear error", p.returncode == 2 and "SLUICE_ISA: unknown kernel ISA 'avx9'" in p.stderr, p.stderr)
rc, out, err = manual('queueStream("words.jsonl").count().print()', 1, "--batch", "1s", "--block", "300ms")
check("a bad batch/block pair names the flags", rc == 2 and "--batch/--block: batch interval (1000 ms)" in err, err)
rc, out, err = sh("run", "--help")
check("run --help lists every option", rc == 0 and all(o in out for o in ("--batch", "--block", "--workers", "--clock", "--batches")), out)
rc, out, err = sh()
check("no command is a usage error", rc == 2, err)
rc, out, err = sh("frobnicate")
check("unknown command is a usage error", rc == 2 and "unknown command" in err, err)
rc, out, err = sh("run", "--batch", "5x", "x")
check("bad duration names the flag and value", rc == 2 and "--batch" in err and "5x" in err, err)
rc, out, err = sh("run", "--workers", "-3", "x")
check("bad --workers", rc == 2 and "--workers" in err, err)
rc, out, err = sh("run", "--clock", "sundial", "x")
check("bad --clock", rc == 2 and "sundial" in err, err)
rc, out, err = sh("run", "--bogus", "x")
check("unknown flag", rc == 2 and "bogus" in err, err)
rc, out, err = sh("run", "--batch")
check("a flag without its value is named", rc == 2 and "--batch needs a value" in err, err)
rc, out, err = sh("run")
check("missing pipeline", rc == 2 and "missing" in err, err)
rc, out, err = sh("run", "--batch", "1s", "--block", "300ms", 'queueStream("words.jsonl").print()')
check("batch not a multiple of block", rc == 2 and "multiple of the block interval" in err, err)

# --- pipeline errors: line, column, caret, suggestion (exit 2)
rc, out, err = manual('queueStream("words.jsonl").reduceBKey(_ + _).print()')
check("unknown operator suggests the nearest", rc == 2 and "did you mean 'reduceByKey'" in err and ":1:28:" in err, err)
rc, out, err = manual('queueStream("words.jsonl")\n  .map(x => (x, 1))\n  .prnt()')
check("error on line 3 points at line 3", rc == 2 and ":3:4:" in err and "did you mean 'print'" in err and "^" in err, err)
rc, out, err = manual('queueStream("words.jsonl").reduceByKey(_ + _).print()')
check("reduceByKey on non-pairs is a type error", rc == 2 and "needs a stream of pairs" in err and "String" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map(x => x * 2).print()')
check("String * Long is a type error", rc == 2 and "not defined for String and Long" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map(_ + _).print()')
check("wrong lambda arity", rc == 2 and "1 argument" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map().print()')
check("wrong operator arity", rc == 2 and "takes 1 argument" in err, err)
rc, out, err = manual('val s = queueStream("words.jsonl")\ns.map(_ + "!")\n  .count(1).print()')
check("arity error points at the operator", rc == 2 and ":3:4:" in err and "count takes 0" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map(x => x')
check("syntax error", rc == 2 and "pipeline:1:" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map(x => x)')
check("missing output operation", rc == 2 and "No output operations registered" in err, err)
rc, out, err = manual('queueStream("words.jsonl").window(2500ms, 1s).print()')
check("window not a multiple of the batch", rc == 2 and ":1:28:" in err and
      "window duration (2500 ms) must be a positive multiple of the slide duration" in err, err)
rc, out, err = manual('queueStream("words.jsonl").window(3s, 1500ms).print()')
check("slide not a multiple of the batch", rc == 2 and "slide duration (1500 ms)" in err, err)
rc, out, err = manual('queueStream("words.jsonl").window(30, 10).print()')
check("window without a unit", rc == 2 and "a duration needs a unit" in err, err)
rc, out, err = manual('queueStream("words.jsonl").reduceByKeyAndWindow(_ + _, 2s, 1s).print()')
check("keyed window on a non-pair stream", rc == 2 and "needs a stream of pairs" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map((_, 1)).reduceByKeyAndWindow(_ + _, _ - _, 2s).print()')
check("inverse form needs a slide", rc == 2 and "expected reduceByKeyAndWindow(f" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map((_, 1)).updateStateByKey((v, s) => v.sum).print()')
check("updateStateByKey must return an Option", rc == 2 and "must return an Option" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map((_, 1)).stateSnapshots().print()')
check("stateSnapshots needs mapWithState", rc == 2 and "only defined on a mapWithState" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map((_, 1)).mapWithState(StateSpec.function('
                      '(k, v, s) => { v.get; s.exists })).print()')
check("mapWithState statement without effect", rc == 2 and "has no effect" in err, err)
rc, out, err = manual('queueStream("words.jsonl").map((_, 1)).mapWithState(StateSpec.function('
                      '(k, v, s) => { s.remove(); s.update(1); k })).print()')
check("update after remove fails the batch", rc == 1 and "after state.remove()" in err, err)

# --- bad input data
rc, out, err = manual('queueStream("bad.jsonl").print()')
check("mixed record types name file, line and column", rc == 2 and "bad.jsonl:2:" in err and "String" in err, err)
rc, out, err = manual('queueStream("broken.jsonl").print()')
check("malformed JSON names file and line", rc == 2 and "broken.jsonl:2:" in err, err)
rc, out, err = manual('queueStream("missing.jsonl").print()')
check("missing queue file", rc == 2 and "missing.jsonl" in err and "No such file" in err, err)
write("nums.txt", "1\nx\n3\n")
rc, out, err = sh("run", "--no-pin", 'textFile("nums.txt").map(_.toInt).reduce(_ + _).print()')
check("malformed numbers are skipped, counted and named", rc == 0 and "\n4\n" in out and "skipped" in err and '"x"' in err, out + err)
write("kmf.jsonl", '["7", "x", "7"]\n')
rc, out, err = manual('val s = queueStream("kmf.jsonl")\ns.map(w => (w.toLong, 1)).reduceByKey(_ + _).print()', 1)
check("a fused word count of f(x) skips what f fails on, reported at the map's position",
      rc == 0 and "(7,2)" in out and 'map at 2:3 skipped 1 record(s)' in err and '"x"' in err, out + err)
write("ev.jsonl", '["{\\"a\\": tru}", "{\\"a\\": 1}", "{\\"b\\": 2}"]\n["[1, 2]", "{\\"a\\": 07}"]\n'
      '["{\\"b\\": 2}", "{\\"a\\": true}"]\n')
rc, out, err = manual('queueStream("ev.jsonl").map(_.jsonField("a")).print()', 3, "--workers", "1")
check("jsonField: a malformed value fails its record, and the warning says where",
      rc == 0 and "\n1\n" in out and "\ntrue\n" in out and "tru\n" not in out and "07" not in out
      and 'malformed JSON at column 7 of "{"a": tru}": invalid literal' in err
      and 'jsonField("a"): an array, not an object: "[1, 2]"' in err
      and 'no JSON field "a" in "{"b": 2}"' in err, out + err)
write("ev2.jsonl", '["{\\"b\\": 99999999999999999999}"]\n["{\\"b\\": 1e999}"]\n["{\\"b\\": ' + "[" * 600 + "]" * 600 + '}"]\n')
rc, out, err = manual('queueStream("ev2.jsonl").map(_.jsonField("a")).print()', 3)
check("jsonField: valid JSON past the diagnosing parser's limits is a missing field, not malformed",
      rc == 0 and err.count('no JSON field "a" in') == 3 and "malformed" not in err, out + err)
write("zero.jsonl", "[1, 0, 2]\n")
rc, out, err = manual('queueStream("zero.jsonl").map(10 / _).print()', 1)
check("division by zero skips the record", rc == 0 and "10\n5\n" in out and "division by zero" in err, out + err)

rc, out, err = manual('queueStream("words.jsonl").saveAsTextFiles("words.jsonl/out")', 1)
check("a failed output is logged with the operation and the cause",
      rc == 1 and "batch 1000 ms: saveAsTextFiles: " in err and "words.jsonl" in err, err)

# --- outputs
rc, out, err = manual('queueStream("words.jsonl").flatMap(_.split(" ")).map((_, 1)).reduceByKey(_ + _).saveAsTextFiles("out/wc", "txt")', 2)
d1 = os.path.join(TMP, "out", "wc-1000.txt")
lines = []
if os.path.isdir(d1):
    for f in sorted(os.listdir(d1)):
        if f.startswith("part-"):
            lines += open(os.path.join(d1, f)).read().split()
check("saveAsTextFiles writes prefix-time.suffix with part files", rc == 0 and sorted(lines) == ["(a,1)", "(b,2)", "(c,1)"] and os.path.exists(os.path.join(d1, "_SUCCESS")), str(lines) + err)
rc, out, err = manual('queueStream("words.jsonl").count().saveAsTextFiles("out/wc", "txt")', 1)
got = "".join(open(os.path.join(d1, f)).read() for f in sorted(os.listdir(d1)) if f.startswith("part-"))
check("a re-run batch overwrites its directory", rc == 0 and got == "2\n", got)
check("no temp directories left", not [f for f in os.listdir(os.path.join(TMP, "out")) if f.startswith(".")])

# --- unified batch and stream: textFile runs once and exits
write("in/a.txt", "") if False else None
os.makedirs(os.path.join(TMP, "in"), exist_ok=True)
write("in/a.txt", "to be or\nnot to be\n")
write("in/b.txt", "be\r\n")
write("in/.hidden", "ignored\n")
t0 = time.time()
rc, out, err = sh("run", "--no-pin", "--batch", "10s", 'textFile("in").flatMap(_.split(" ")).countByValue().print()')
check("textFile is a batch job that exits at once", rc == 0 and time.time() - t0 < 8 and sorted(out.strip().split("\n")[3:]) == ["(be,3)", "(not,1)", "(or,1)", "(to,2)"], out + err)

# --- the demo and signals
rc, out, err = sh("demo", "--batches", "2", "--no-pin")
check("demo prints word counts", rc == 0 and out.count("Time: ") == 4, out + err)
p = subprocess.Popen([S, "run", "--no-pin", "--batch", "200ms", 'generator("words", rate = 1000).count().print()'],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TMP)
time.sleep(1.0)
p.send_signal(signal.SIGINT)
try:
    out, err = p.communicate(timeout=10)
    check("SIGINT stops gracefully with exit 0", p.returncode == 0 and "Time: " in out and out.endswith("\n\n"), "rc=%s %s" % (p.returncode, err))
except subprocess.TimeoutExpired:
    p.kill()
    check("SIGINT stops gracefully with exit 0", False, "did not stop")

# --- values out of range are clear errors, not overflows or silent defaults
rc, out, err = sh("run", "--clock", "manual", "--batches", "1", "--batch", "1000h", "--block", "200ms", 'queueStream("words.jsonl").count().print()')
check("a batch of millions of block intervals", rc == 2 and "is more than 1048576 block intervals" in err, err)
rc, out, err = sh("run", "--clock", "manual", "--batches", "1", "--batch", "1000h", 'queueStream("words.jsonl").count().print()')
check("a long batch gets a default block interval that keeps it at 2^20 blocks", rc == 0 and "\n2\n" in out, out + err)
for pipe, want in [
        ('queueStream("words.jsonl", 4294967298).print()', "partitions must be in -1048576..1048576"),
        ('generator("numbers", keys = 0, rate = 3).print()', "keys must be >= 1, got 0"),
        ('generator("lines", words = 0, rate = 3).print()', "words must be >= 1, got 0"),
        ('generator("numbers", rate = 9000000000000000000).print()', "makes more than 1099511627776 records per batch of 1000 ms"),
        ('socketTextStream("127.0.0.1", 1, restartDelay = 2562047h).print()', "restartDelay must be from 0 to 24h"),
        ('socketTextStream("127.0.0.1", 1, restartDelay = -1s).print()', "restartDelay must be from 0 to 24h, got -1000 ms"),
        ('queueStream("words.jsonl").window(-2s).count().print()', ":1:35: window: a duration must be positive"),
        ('queueStream("words.jsonl").window(Seconds(-2)).count().print()', ":1:35: window: a duration must be positive"),
        ('queueStream("words.jsonl").window(4s, -Seconds(2)).count().print()', ":1:39: window: a duration must be positive"),
        ('queueStream("words.jsonl").window(Seconds(2305843009213693955)).count().print()', ":1:35: window: duration out of range"),
        ('queueStream("words.jsonl").map((_, 1)).reduceByKey(_ + _, 10000000).print()', "numPartitions must be an integer from 1 to 1048576"),
        ('queueStream("words.jsonl").map((_, 1)).mapWithState(StateSpec.function((k, v, s) => k).timeout(-1s)).print()', "timeout takes one positive duration"),
        ('queueStream("words.jsonl").map((_, 1)).mapWithState(StateSpec.function((k, v, s) => k).timeoutEveryBatch(1)).print()', "timeoutEveryBatch takes no argument")]:
    rc, out, err = manual(pipe, 1)
    check("out of range: " + want, rc == 2 and want in err, err)
for delay, want in [("", "restarting in 2000 ms"), (", restartDelay = 0s", "restarting in 0 ms")]:
    rc, out, err = sh("run", "-v", "--batch", "100ms", "--batches", "2", "--no-pin",
                      'socketTextStream("127.0.0.1", 1%s).count().print()' % delay)
    check("socketTextStream's restart delay: " + want, rc == 0 and want in err, err[-400:])
# a value out of range is reported at its argument, with the source's usage
for pipe, at in [('generator("numbers", keys = 0, rate = 3).print()', "pipeline:1:22: generator: keys"),
                 ('textFile("tf", blockBytes = 0).print()', "pipeline:1:16: textFile: blockBytes"),
                 ('socketServerStream(":9", maxRate = 0).print()', "pipeline:1:26: socketServerStream: maxRate"),
                 ('socketTextStream("h", 1, maxRecord = 0).print()', "pipeline:1:26: socketTextStream: maxRecord"),
                 ('queueStream("words.jsonl", partitions = 4294967298).print()', "pipeline:1:28: queueStream: partitions")]:
    rc, out, err = manual(pipe, 1)
    check("a bad value is named at its argument: " + at, rc == 2 and at in err and "(usage: " in err, err)
write("deep.sl", 'val s0 = queueStream("words.jsonl")\n' + "".join("val s%d = s%d.filter(_.length > 0)\n" % (i + 1, i) for i in range(1200)) + "s1200.count().print()\n")
rc, out, err = sh("run", "--clock", "manual", "--batches", "1", "-f", "deep.sl")
check("a chain of 1200 vals is refused with its position", rc == 2 and "deep.sl:1001:" in err and "more than 1000 streams deep" in err, err)
wide = 'val s0 = queueStream("words.jsonl")\n' + "".join("val w%d = s0.filter(_.length > %d)\n" % (i, i % 3) for i in range(100000))
write("wide.sl", wide + "w50001.union(w99999).count().print()\n")
rc, out, err = sh("run", "--clock", "manual", "--batches", "1", "-f", "wide.sl")
check("a program of 100000 vals builds (names are hashed) and finds them", rc == 0 and "\n4\n" in out, out + err)
write("wide2.sl", wide + "val w77777 = s0\n")
rc, out, err = sh("run", "--clock", "manual", "--batches", "1", "-f", "wide2.sl")
check("a name defined twice among 100000 is named with its line", rc == 2 and "wide2.sl:100002:" in err and "val w77777 is already defined" in err, err)
with open("/dev/full", "w") as full:
    p = subprocess.run([S, "run", "--clock", "manual", "--batches", "2", 'queueStream("words.jsonl").print()'],
                       stdout=full, stderr=subprocess.PIPE, text=True, cwd=TMP)
check("a failed write to standard output exits 1", p.returncode == 1 and "cannot write standard output" in p.stderr, p.stderr)

write("ctl.jsonl", '["a\\nb\\u001b[31mred", "12"]\n')
rc, out, err = manual('queueStream("ctl.jsonl").map(_.toInt).print()', 1)
check("control bytes of a record are escaped in a warning",
      rc == 0 and 'malformed number "a\\nb\\x1b[31mred" for toInt' in err and "\x1b" not in err and
      all(l.startswith("sluice: ") for l in err.splitlines()), repr(err))

for flag, val in [("--batch", "0x10"), ("--batch", "1e3"), ("--batch", " 1s"), ("--batch", "+1s"), ("--batch", ".5s"),
                  ("--workers", "+2"), ("--workers", " 2")]:
    rc, out, err = manual('queueStream("words.jsonl").count().print()', 1, flag, val)
    check("loose number %s %r is a usage error" % (flag, val), rc == 2 and flag in err, err)
for val in ["1.5s", "2sec", "100ms", "1000", "72h"]:
    rc, out, err = manual('queueStream("words.jsonl").count().print()', 1, "--batch", val)
    check("--batch %s is fine" % val, rc == 0, err)
# exact decimals: 1.001 s is 1001 ms (a double product is 1000.999...)
for val, ms in [("1.001s", 1001), ("1.005min", 60300), ("0.2990s", 299), ("2.5000000000000h", 9000000),
                ("1000000000000", 1000000000000)]:
    rc, out, err = manual('queueStream("words.jsonl").count().print()', 1, "--batch", val)
    check("--batch %s is %d ms" % (val, ms), rc == 0 and "\nTime: %d ms\n" % ms in out, out + err)
for val in ["1.0005s", "0.1ms", "1000000000001", "1.00000000001s", "99999999999999999999999s", "1.h"]:
    rc, out, err = manual('queueStream("words.jsonl").count().print()', 1, "--batch", val)
    check("--batch %s is refused" % val, rc == 2 and "bad --batch duration '%s'" % val in err, err)
for flag in ["--quiet=1", "--help=x", "--no-pin=yes"]:
    rc, out, err = sh("run", flag, 'queueStream("words.jsonl").print()')
    want = "option %s takes no value" % flag.split("=")[0]
    check(want, rc == 2 and want in err, err)

with open(os.path.join(TMP, "bom.jsonl"), "wb") as f:
    f.write(b"\xef\xbb\xbf[1, 2]\n[3]\n")
with open(os.path.join(TMP, "bom.sl"), "wb") as f:
    f.write(b'\xef\xbb\xbfqueueStream("bom.jsonl").count().print()\n')
rc, out, err = sh("run", "--clock", "manual", "--batches", "2", "-f", "bom.sl")
check("a UTF-8 byte-order mark in a job file and a queue file is skipped", rc == 0 and "\n2\n" in out and "\n1\n" in out, out + err)

for lit, want in [("0x10", ":1:43: hexadecimal literals are not supported"), ("1e", ":1:43: malformed number '1e'"),
                  ("1_000", ":1:43: malformed number '1_000'")]:
    rc, out, err = manual('queueStream("words.jsonl").map(_.length + %s).print()' % lit, 1)
    check("number literal %s" % lit, rc == 2 and want in err, err)

# --- -f job file
write("job.sl", '// a job file\nval w = queueStream("words.jsonl")\nw.count().print()\n')
rc, out, err = sh("run", "--clock", "manual", "--batches", "1", "-f", "job.sl")
check("run -f reads a job file", rc == 0 and "\n2\n" in out, out + err)

shutil.rmtree(TMP, ignore_errors=True)
n_ok = sum(results)
print("%d passed, %d failed" % (n_ok, len(results) - n_ok))
sys.exit(0 if n_ok == len(results) else 1)
