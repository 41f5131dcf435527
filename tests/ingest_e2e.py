#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end ingest over real loopback TCP:

  sluice-loadgen --counts  ->  socketServerStream  ->  flatMap(split) -> countByValue
                                                    ->  saveAsTextFiles

The engine runs on the real clock with 200 ms batches; the generator sends words over
several connections; then SIGINT stops sluice gracefully (receivers drained into a last
batch). The per-word totals summed over every batch's output files must equal exactly
what the generator reports it sent: nothing accepted is lost, nothing is counted twice.
Also: socketTextStream (client mode) reconnects to a server that comes up late.

usage: ingest_e2e.py SLUICE LOADGEN
"""
import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SLUICE, LOADGEN = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="sluice-ingest-")
results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print("%s %s%s" % ("PASS" if cond else "FAIL", name, "" if cond else ": " + str(detail)[:2000]))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def printed_total(out):
    """The sum of the counts a count().print() pipeline printed, over its batches."""
    lines = out.split("\n")
    return sum(int(lines[i + 2]) for i, l in enumerate(lines)
               if l.startswith("Time: ") and i + 2 < len(lines) and lines[i + 2].strip().isdigit())


def interrupt(eng):
    """SIGINT (a graceful stop), then its output; killed if it does not end in 30 s."""
    eng.send_signal(signal.SIGINT)
    try:
        return eng.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        eng.kill()
        return eng.communicate()


def read_counts(prefix_dir):
    got = collections.Counter()
    for d in sorted(os.listdir(prefix_dir)):
        if not d.startswith("wc-"):
            continue
        for f in os.listdir(os.path.join(prefix_dir, d)):
            if not f.startswith("part-"):
                continue
            for line in open(os.path.join(prefix_dir, d, f)):
                line = line.rstrip("\n")
                assert line.startswith("(") and line.endswith(")"), line
                w, n = line[1:-1].rsplit(",", 1)
                got[w] += int(n)
    return got


# --- loadgen -> socketServerStream -> countByValue -> saveAsTextFiles, exact counts; once
# with one io thread, once with the 8 connections dealt to 3 io threads
def loadgen_to_counts(io_threads):
    tag = "(ioThreads = %d)" % io_threads
    port = free_port()
    out = os.path.join(TMP, "out%d" % io_threads)
    os.makedirs(out)
    pipe = ('socketServerStream("127.0.0.1:%d", ioThreads = %d).flatMap(_.split(" "))'
            '.countByValue().saveAsTextFiles("%s/wc")' % (port, io_threads, out))
    eng = subprocess.Popen([SLUICE, "run", "--batch", "200ms", "--block", "50ms", "--no-pin",
                            pipe], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ok = wait_port(port, time.time() + 10)
    check("socketServerStream listens " + tag, ok)
    counts_file = os.path.join(TMP, "sent%d.tsv" % io_threads)
    lg = subprocess.run([LOADGEN, "-c", "8", "-f", "lines", "-w", "5", "-k", "300", "-n",
                         "200000", "--counts", counts_file, "127.0.0.1:%d" % port],
                        capture_output=True, text=True, timeout=120)
    check("loadgen sent everything " + tag, lg.returncode == 0, lg.stderr)
    time.sleep(0.5)  # let the last bytes arrive before asking for the stop (drain covers the rest)
    so, se = interrupt(eng)
    check("sluice stops gracefully on SIGINT " + tag, eng.returncode == 0, se)
    sent = collections.Counter()
    if os.path.exists(counts_file):
        for line in open(counts_file):
            k, n = line.rstrip("\n").split("\t")
            sent[k] = int(n)
    got = read_counts(out)
    check("every word counted exactly as sent " + tag, sum(sent.values()) > 0 and got == sent,
          "sent %d words, counted %d; %d keys differ" % (sum(sent.values()), sum(got.values()),
                                                          len(set(sent) ^ set(got))))
    check("no temp directories left in the output " + tag,
          not [d for d in os.listdir(out) if d.startswith(".")])


loadgen_to_counts(1)
loadgen_to_counts(3)

# --- socketTextStream connects as a client, and reconnects when the server comes late
port2 = free_port()
pipe2 = 'socketTextStream("127.0.0.1", %d, restartDelay = 100ms).count().print()' % port2
eng = subprocess.Popen([SLUICE, "run", "--batch", "100ms", "--no-pin", pipe2],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.5)  # the server is down: sluice retries
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port2))
srv.listen(1)
srv.settimeout(10)
try:
    conn, _ = srv.accept()
    conn.sendall(b"".join(b"line %d\n" % i for i in range(1000)))
    conn.close()
    accepted = True
except OSError:
    accepted = False
check("socketTextStream reconnects to a server that starts late", accepted)
time.sleep(0.5)
so, se = interrupt(eng)
srv.close()
total = printed_total(so)
check("socketTextStream received every line", eng.returncode == 0 and total == 1000,
      "counted %d, rc %s, %s" % (total, eng.returncode, se[-500:]))

# --- a record longer than maxRecord is skipped, warned about at the source's position and
# counted in the run's summary; the records around it arrive
port3 = free_port()
pipe3 = 'socketServerStream("127.0.0.1:%d", maxRecord = 5).count().print()' % port3
eng = subprocess.Popen([SLUICE, "run", "--batch", "100ms", "--no-pin", pipe3],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
if wait_port(port3, time.time() + 10):
    c = socket.create_connection(("127.0.0.1", port3))
    c.sendall(b"ab\n123456789\ncd\n")
    c.close()
time.sleep(0.5)
so, se = interrupt(eng)
total = printed_total(so)
check("an oversize record is skipped and the others counted", eng.returncode == 0 and total == 2,
      "counted %d, rc %s" % (total, eng.returncode))
check("the receiver's skip is warned at its position and summed at the end",
      "socketServerStream at 1:1 skipped 1 record(s)" in se and "sluice: 1 record(s) skipped" in se, se[-800:])

shutil.rmtree(TMP, ignore_errors=True)
n_ok = sum(results)
print("%d passed, %d failed" % (n_ok, len(results) - n_ok))
sys.exit(0 if n_ok == len(results) else 1)
