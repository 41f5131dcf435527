#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Expand a doc template: FILE blocks write input files, RUN/SH blocks run commands and
paste their real output, so every example in docs/ is what the built binary prints.

usage: tools/gen-docs.py SLUICE_BINARY TEMPLATE WORKDIR OUT.md
  e.g. tools/gen-docs.py build/tools/sluice docs/src/cli.md.in /tmp/docs-cli docs/cli.md
A RUN whose exit status differs from its rc= (default 0) is reported and fails the run."""
import os, re, subprocess, sys, shlex

binary, tpl, work, out = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
bindir = os.path.join(work, ".bin")
os.makedirs(bindir, exist_ok=True)
link = os.path.join(bindir, "sluice")
if os.path.lexists(link):
    os.remove(link)
os.symlink(os.path.abspath(binary), link)
lg = os.path.join(os.path.dirname(os.path.abspath(binary)), "sluice-loadgen")
if os.path.exists(lg):
    link2 = os.path.join(bindir, "sluice-loadgen")
    if os.path.lexists(link2):
        os.remove(link2)
    os.symlink(lg, link2)
env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"])
text = open(tpl).read()
fails = []

def sh(cmd):
    p = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return p.stdout.decode(), p.returncode

def block(m):
    kind, args, body = m.group(1), m.group(2).strip(), m.group(3)
    opts = dict(a.split("=", 1) for a in args.split() if "=" in a)
    if body.startswith("\n"):
        body = body[1:]
    if kind == "FILE":
        name = opts["name"]
        path = os.path.join(work, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(body)
        return "\x00"
    if kind == "RUN":
        n = opts.get("n", "1")
        pipe = body.rstrip("\n")
        extra = opts.get("opts", "").replace(",", " ")
        cmd = f"sluice run --clock manual --batches {n} --workers 1 {extra}".rstrip() + " " + shlex.quote(pipe)
        shown = f"sluice run --clock manual --batches {n} --workers 1 {extra}".rstrip() + " '" + pipe + "'"
        if "'" in pipe:
            shown = cmd
        cmds = [(shown, cmd)]
    else:  # SH: one command per line
        cmds = [(l, l) for l in body.rstrip("\n").split("\n")]
    res = []
    for c in filter(None, opts.get("cat", "").split(",")):
        o, _ = sh("cat " + c)
        res.append("$ cat " + c + "\n" + o + ("" if o.endswith("\n") or not o else "\n"))
    for shown, cmd in cmds:
        o, rc = sh(cmd)
        want = int(opts.get("rc", "0"))
        if kind == "RUN" and rc != want:
            fails.append((shown, rc, o))
        res.append("$ " + shown + "\n" + o)
        if opts.get("showrc") and "sluice" in shown:
            res.append("$ echo $?\n%d\n" % rc)
    s = "".join(res)
    if not s.endswith("\n"):
        s += "\n"
    return "```console\n" + s + "```"

text = re.sub(r"<!--(FILE|RUN|SH)([^\n]*)\n(.*?)-->", block, text, flags=re.S)
# FILE blocks leave an empty line; collapse runs of 3+ newlines made by them
text = text.replace("\x00\n", "")
open(out, "w").write(text)
for f in fails:
    print("UNEXPECTED RC", f[1], f[0], f[2][:300], file=sys.stderr)
sys.exit(1 if fails else 0)
