#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of sluice-loadgen against a real TCP server written here: what the server
received must be exactly what the tool reported (records, bytes, per-key counts), every line
must parse in its format, and the rate, duration, line endings, errors and exit codes must be
as documented.

usage: test_loadgen.py LOADGEN_BINARY
"""
import collections
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

LG = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="sluice-loadgen-")
results = []

HEADER = ["records", "bytes", "connections", "seconds", "records_per_s", "mb_per_s"]
YSB_KEYS = {"user_id", "page_id", "ad_id", "ad_type", "event_type", "event_time", "ip_address"}
AD_TYPES = {"banner", "modal", "sponsored-search", "mail", "mobile"}
EVENT_TYPES = {"view", "click", "purchase"}
WORD = re.compile(r"(?:[bdfgklmnprstvz][aeiou]){2,4}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def check(name, cond, detail=""):
    results.append(bool(cond))
    print("%s %s%s" % ("PASS" if cond else "FAIL", name, "" if cond else ": " + str(detail)[:2000]))
    sys.stdout.flush()


class Server:
    """A TCP server on an ephemeral port: one thread per connection reads it to EOF.

    reset_after: abort each connection with a RST after this many bytes.
    stall: accept connections but never read them."""

    def __init__(self, host="127.0.0.1", family=socket.AF_INET, reset_after=None, stall=False):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(256)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.reset_after = reset_after
        self.stall = stall
        self.lock = threading.Lock()
        self.data = []  # bytes of each finished connection
        self.held = []  # stalled connections
        self.closing = False
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(None)
            if self.stall:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                self.held.append(c)
                continue
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    def _read(self, c):
        chunks, n = [], 0
        while True:
            try:
                x = c.recv(1 << 20)
            except OSError:
                break
            if not x:
                break
            chunks.append(x)
            n += len(x)
            if self.reset_after is not None and n >= self.reset_after:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                break
        c.close()
        with self.lock:
            self.data.append(b"".join(chunks))

    def finish(self, n, timeout=15):
        """Wait until n connections were read to EOF; stop; return their data."""
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if len(self.data) >= n:
                    break
            time.sleep(0.01)
        self.closing = True
        self.accepter.join()
        self.sock.close()
        for c in self.held:
            c.close()
        with self.lock:
            return list(self.data)


def target(srv):
    return "127.0.0.1:%d" % srv.port


def run(*args, timeout=60):
    t0 = time.time_ns()
    p = subprocess.run([LG] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr, t0, time.time_ns()


def report(out):
    """The stdout report as a dict, or None if it is not a TSV header + one line of values."""
    lines = out.split("\n")
    if len(lines) != 3 or lines[2] != "" or lines[0].split("\t") != HEADER:
        return None
    vals = lines[1].split("\t")
    if len(vals) != len(HEADER):
        return None
    r = dict(zip(HEADER, vals))
    for k in ("records", "bytes", "connections"):
        r[k] = int(r[k])
    for k in ("seconds", "records_per_s", "mb_per_s"):
        r[k] = float(r[k])
    return r


def read_counts(path):
    counts = {}
    with open(path) as f:
        for line in f:
            k, c = line.rstrip("\n").split("\t")
            counts[k] = int(c)
    return counts


def path(name):
    return os.path.join(TMP, name)


# --- every format, -n and -c 4: the server gets exactly what was reported
N = 10007
for fmt in ["words", "lines", "csv", "json"]:
    srv = Server()
    stats, counts = path(fmt + ".stats.json"), path(fmt + ".counts.tsv")
    args = ["-n", N, "-c", 4, "-f", fmt, "-k", 50, "--stats", stats]
    if fmt == "lines":
        args += ["-w", 5]
    if fmt != "json":
        args += ["--counts", counts]
    rc, out, err, t0, t1 = run(*args, target(srv))
    conns = srv.finish(4)
    data = b"".join(conns)
    rep = report(out)
    check(fmt + ": exit 0 and a TSV report", rc == 0 and rep is not None, out + err)
    if rep is None:
        continue
    check(fmt + ": 4 connections, each ending with a whole line",
          len(conns) == 4 and rep["connections"] == 4 and all(c.endswith(b"\n") for c in conns),
          [len(c) for c in conns])
    check(fmt + ": the -n records were split over the connections",
          sorted(c.count(b"\n") for c in conns) == [N // 4, N // 4 + 1, N // 4 + 1, N // 4 + 1],
          [c.count(b"\n") for c in conns])
    check(fmt + ": server received the reported records and bytes",
          rep["records"] == N and data.count(b"\n") == N and len(data) == rep["bytes"],
          "reported %s, received %d lines %d bytes" % (rep, data.count(b"\n"), len(data)))
    with open(stats) as f:
        st = json.load(f)
    check(fmt + ": --stats JSON matches the report",
          st["records"] == rep["records"] and st["bytes"] == rep["bytes"] and
          st["connections"] == 4 and st["format"] == fmt and
          abs(st["seconds"] - rep["seconds"]) < 1e-3 and
          sum(c["records"] for c in st["per_connection"]) == N and
          t0 // 1000000 - 1 <= st["start_time_ms"] <= st["end_time_ms"] <= t1 // 1000000 + 1, st)
    lines = data.decode().split("\n")[:-1]
    seen = collections.Counter()
    bad = []
    if fmt == "words":
        for ln in lines:
            if not WORD.fullmatch(ln):
                bad.append(ln)
            seen[ln] += 1
    elif fmt == "lines":
        for ln in lines:
            ws = ln.split(" ")
            if len(ws) != 5 or not all(WORD.fullmatch(w) for w in ws):
                bad.append(ln)
            seen.update(ws)
    elif fmt == "csv":
        for ln in lines:
            f = ln.split(",")
            if (len(f) != 3 or not WORD.fullmatch(f[0]) or not 1 <= int(f[1]) <= 100 or
                    not t0 <= int(f[2]) <= t1):
                bad.append(ln)
            seen[f[0]] += 1
    else:
        for ln in lines:
            try:
                ev = json.loads(ln)
                ok = (set(ev) == YSB_KEYS and all(isinstance(v, str) for v in ev.values()) and
                      all(UUID.fullmatch(ev[k]) for k in ("user_id", "page_id", "ad_id")) and
                      ev["ad_type"] in AD_TYPES and ev["event_type"] in EVENT_TYPES and
                      ev["event_time"].isdigit() and
                      t0 // 1000000 <= int(ev["event_time"]) <= t1 // 1000000 and
                      ev["ip_address"] == "1.2.3.4")
            except ValueError:
                ok, ev = False, {}
            if not ok:
                bad.append(ln)
            seen[ev.get("ad_id")] += 1
    check(fmt + ": every line parses (fields, keys, send times within the run)", not bad, bad[:3])
    check(fmt + ": keys come from a pool of -k 50", len(seen) == 50, len(seen))
    if fmt != "json":
        check(fmt + ": --counts equals what the server counted", read_counts(counts) == seen,
              sorted(read_counts(counts).items())[:5])

# --- line endings
for name, eol in [("crlf", b"\r\n"), ("cr", b"\r"), ("lf", b"\n")]:
    srv = Server()
    rc, out, err, t0, t1 = run("-n", 1000, "-c", 2, "-f", "csv", "--line-ending", name,
                               target(srv))
    conns = srv.finish(2)
    data = b"".join(conns)
    rep = report(out)
    lines = data.split(eol)
    check("--line-ending %s: every line ends with %r" % (name, eol),
          rc == 0 and rep and rep["records"] == 1000 and len(data) == rep["bytes"] and
          all(c.endswith(eol) for c in conns) and data.count(eol) == 1000 and
          data.count(b"\r") + data.count(b"\n") == 1000 * len(eol) and
          all(len(ln.split(b",")) == 3 for ln in lines[:-1]) and lines[-1] == b"",
          out + err + repr(data[:80]))

# --- rate control: 2000 records at 2000/s over 4 connections take about a second
srv = Server()
rc, out, err, t0, t1 = run("-r", 2000, "-n", 2000, "-c", 4, "-f", "csv", target(srv))
data = b"".join(srv.finish(4))
el = (t1 - t0) / 1e9
rep = report(out)
times = [int(ln.split(b",")[2]) for ln in data.split(b"\n")[:-1]]
check("-r 2000 -n 2000 takes about 1 s (0.7..3 s)", rc == 0 and 0.7 <= el <= 3.0, "%.3f s" % el)
check("-r: the send times are spread over the run",
      len(times) == 2000 and 0.7e9 <= max(times) - min(times) <= 1.5e9 and rep and
      0.7 <= rep["seconds"] <= 1.5 and rep["records"] == 2000,
      "%s %s" % (rep, (max(times) - min(times)) / 1e9 if times else None))
# paced, not one burst: no 100 ms window holds much more than its share (200)
buckets = collections.Counter((t - min(times)) // 100000000 for t in times) if times else {}
check("-r: records are paced evenly", buckets and max(buckets.values()) <= 300, buckets)

# --- duration
srv = Server()
rc, out, err, t0, t1 = run("-d", 0.5, "-r", 1000, "-c", 2, target(srv))
data = b"".join(srv.finish(2))
rep = report(out)
check("-d 0.5 -r 1000 sends about 500 records, all of them received",
      rc == 0 and rep and 400 <= rep["records"] <= 600 and data.count(b"\n") == rep["records"] and
      len(data) == rep["bytes"], "%s received %d" % (out + err, data.count(b"\n")))
srv = Server()
rc, out, err, t0, t1 = run("-d", "300ms", "-c", 3, "-f", "json", target(srv))
data = b"".join(srv.finish(3))
rep = report(out)
check("-d 300ms as fast as possible: reported == received",
      rc == 0 and rep and rep["records"] > 0 and data.count(b"\n") == rep["records"] and
      len(data) == rep["bytes"] and (t1 - t0) / 1e9 < 5,
      "%s received %d lines %d bytes" % (out + err, data.count(b"\n"), len(data)))

# --- large, fast run: partial writes are handled and nothing is lost
srv = Server()
rc, out, err, t0, t1 = run("-n", 300000, "-c", 4, "-f", "lines", "-w", 20, "-k", 100000,
                           "--counts", path("big.tsv"), target(srv))
conns = srv.finish(4)
data = b"".join(conns)
rep = report(out)
seen = collections.Counter(data.decode().split())
check("300k lines of 20 words: reported == received, counts match",
      rc == 0 and rep and rep["records"] == 300000 and data.count(b"\n") == 300000 and
      len(data) == rep["bytes"] and read_counts(path("big.tsv")) == seen, out + err)

# --- the vocabulary: K distinct pronounceable words (crossing into 3 syllables at 4900)
srv = Server()
rc, out, err, t0, t1 = run("-n", 200000, "-c", 2, "-k", 5000, "--counts", path("voc.tsv"),
                           target(srv))
words = set(b"".join(srv.finish(2)).decode().split("\n")[:-1])
counts = read_counts(path("voc.tsv"))
check("-k 5000: 5000 distinct words, each pronounceable",
      rc == 0 and len(words) == 5000 and len(counts) == 5000 and
      sum(counts.values()) == 200000 and all(WORD.fullmatch(w) for w in words) and
      any(len(w) == 6 for w in words), "%d words" % len(words))

# --- determinism
datas = []
for seed in [7, 7, 8]:
    srv = Server()
    run("-n", 3000, "--seed", seed, "-f", "lines", target(srv))
    datas.append(b"".join(srv.finish(1)))
check("--seed: same seed, same content; other seed, other content",
      datas[0] == datas[1] and datas[0] != datas[2] and datas[0].count(b"\n") == 3000)

# --- -q, -n 0
srv = Server()
rc, out, err, t0, t1 = run("-q", "-n", 10, "--stats", path("q.json"), target(srv))
conns = srv.finish(1)
with open(path("q.json")) as f:
    st = json.load(f)
check("-q prints nothing; --stats still written",
      rc == 0 and out == "" and st["records"] == 10 and conns[0].count(b"\n") == 10, out + err)
srv = Server()
rc, out, err, t0, t1 = run("-n", 0, "-c", 2, target(srv))
conns = srv.finish(2)
rep = report(out)
check("-n 0 connects, sends nothing and reports 0",
      rc == 0 and rep and rep["records"] == 0 and rep["bytes"] == 0 and conns == [b"", b""],
      out + err)

# --- IPv6
try:
    srv6 = Server("::1", socket.AF_INET6)
except OSError:
    srv6 = None
    print("SKIP IPv6: no ::1")
if srv6:
    rc, out, err, t0, t1 = run("-n", 100, "-c", 2, "[::1]:%d" % srv6.port)
    data = b"".join(srv6.finish(2))
    check("[::1]:PORT works", rc == 0 and data.count(b"\n") == 100, out + err)

# --- SIGINT stops gracefully and reports exactly what was sent
srv = Server()
p = subprocess.Popen([LG, "-r", "1000", "-d", "30", "-c", "2", "--stats", path("sig.json"),
                      target(srv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.7)
p.send_signal(signal.SIGINT)
try:
    out, err = p.communicate(timeout=10)
    data = b"".join(srv.finish(2))
    rep = report(out)
    with open(path("sig.json")) as f:
        st = json.load(f)
    check("SIGINT: exit 0, report == received",
          p.returncode == 0 and rep and 300 <= rep["records"] <= 1500 and
          data.count(b"\n") == rep["records"] and len(data) == rep["bytes"] and
          st["stopped_by_signal"] is True, "rc=%s %s received %d" % (p.returncode, out + err,
                                                                     data.count(b"\n")))
except subprocess.TimeoutExpired:
    p.kill()
    srv.finish(0, timeout=0)
    check("SIGINT: exit 0, report == received", False, "did not stop")

# --- errors at run time: exit 1 with host:port and the errno text
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
rc, out, err, t0, t1 = run("-n", 10, "127.0.0.1:%d" % port)
check("connection refused: exit 1 naming host:port and the error",
      rc == 1 and "127.0.0.1:%d" % port in err and "refused" in err.lower() and out == "", err)

srv = Server(reset_after=200000)
rc, out, err, t0, t1 = run("-d", 5, "-c", 1, target(srv))
srv.finish(1)
check("connection reset while sending: exit 1 naming host:port and the error",
      rc == 1 and target(srv) in err and
      ("reset" in err.lower() or "broken pipe" in err.lower()) and (t1 - t0) / 1e9 < 4.5, err)

srv = Server(stall=True)
rc, out, err, t0, t1 = run("-d", 0.3, "-c", 1, target(srv))
rep = report(out)
srv.finish(0, timeout=0)
check("a peer that stops reading is given up 2 s after the deadline: exit 1",
      rc == 1 and "stopped reading" in err and target(srv) in err and 2.0 <= (t1 - t0) / 1e9 < 6
      and rep is not None, "%.2f s %s" % ((t1 - t0) / 1e9, out + err))

# --- usage errors: exit 2 with a message
T = "127.0.0.1:9"
bad = [
    ["--bogus", T], ["-x", T], ["-c", "0", T], ["-c", "abc", T], ["-f", "xml", T],
    ["-r", "-5", T], ["-r", "fast", T], ["-n", "1x", T], ["-n", "-1", T], ["-d", "0", T],
    ["-d", "soon", T], ["-k", "0", T], ["-w", "0", T], ["--seed", "x", T],
    ["--line-ending", "crcr", T], [], ["localhost"], ["::1:80"], ["127.0.0.1:70000"],
    ["127.0.0.1:0"], ["[::1]9"], [":80"], ["-f", "json", "--counts", "x", T], ["-c"], [T, "extra"],
]
for args in bad:
    rc, out, err, t0, t1 = run(*args)
    check("usage error exits 2: %s" % " ".join(args),
          rc == 2 and err.startswith("sluice-loadgen: ") and "--help" in err and out == "",
          "rc=%d %r" % (rc, err))
rc, out, err, t0, t1 = run("--help")
check("--help prints the options table",
      rc == 0 and all(o in out for o in ["--connections", "--rate", "--records", "--duration",
                                         "--format", "--keys", "--words", "--seed",
                                         "--line-ending", "--stats", "--counts", "-q"]), out)

shutil.rmtree(TMP, ignore_errors=True)
n_ok = sum(results)
print("%d passed, %d failed" % (n_ok, len(results) - n_ok))
sys.exit(0 if n_ok == len(results) else 1)
