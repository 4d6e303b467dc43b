# bench/workloads' CPython workload: import a typical set of the standard
# library, build an application's state (a dict of ENTRIES records), then
#   indep  print "ready" and sleep (one interpreter per container);
#   fork   pre-fork WORKERS children that each walk the state, as request
#          handlers do (reference counts are written, so every page of the
#          state is copied into each child), then print "ready" and sleep.
import os
import sys
import time

import argparse, asyncio, collections, decimal, email.parser, http.client  # noqa: E401,F401
import json, logging, re, typing, urllib.parse, xml.etree.ElementTree  # noqa: E401,F401

mode, entries, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
state = {"user-%d" % i: {"id": i, "name": "name-%d" % i, "tags": ["a", "b", str(i % 7)]} for i in range(entries)}


def walk():
    n = 0
    for k, v in state.items():
        n += len(k) + v["id"] + len(v["tags"])
    return n


if mode == "fork":
    r, w = os.pipe()
    for _ in range(workers):
        if os.fork() == 0:
            os.close(r)
            walk()
            os.write(w, b"x")
            while True:
                time.sleep(1000)
    os.close(w)
    got = 0
    while got < workers:
        got += len(os.read(r, workers))
walk()
print("ready", flush=True)
while True:
    time.sleep(1000)
