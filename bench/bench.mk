# Benchmarks of the operator commands (bench/).  Run by hand, not by
# `make check`: their timings depend on whatever else the machine runs.
#
#   make bench-status     samepage status over 100 cgroups / 1000 processes
#                         (target: median < 50 ms)

.PHONY: bench-status

bench-status: all
	bench/status

# make bench-start-overhead   container create+start+delete with vs without
#                             the hook (target: median ratio <= 1.03)
.PHONY: bench-start-overhead
bench-start-overhead: all
	bench/start-overhead

# make bench-converge   8 runc containers x 64 MiB identical memory: time and
#                       ksmd CPU until 95 % merged, per way of running ksmd
#                       (target: governor <= 3 s and no more CPU than the
#                       advisor).  CONVERGE_TRAIL=10 for a quick run.
.PHONY: bench-converge
$(B)/bench/converge-watch: bench/converge.d/watch.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) -O2 -o $@ $<

bench-converge: all $(B)/bench/converge-watch $(B)/test/fillmem
	bench/converge

# make bench-late-replica   2 runc containers x 64 MiB identical memory, a
#                       third with the same memory 10 s and 300 s later,
#                       shipped samepage.conf: time and ksmd CPU until 95 %
#                       of the late one merged, with the governor and with
#                       the hook's ksmd alone, side by side (target: <= 10 s
#                       after the governor's boost).  LATE_AFTER="10" for a
#                       quick run.
.PHONY: bench-late-replica
bench-late-replica: all $(B)/bench/converge-watch $(B)/test/fillmem
	bench/late-replica

# make bench-workloads   4 runc containers each of independent CPython,
#                        pre-forked CPython workers and Node.js (host
#                        interpreters bind-mounted): the estimate before,
#                        what KSM freed with the governor, the ratio
#                        (target >= 0.95), t95 and ksmd CPU.
.PHONY: bench-workloads
bench-workloads: all
	bench/workloads

# make bench-load   64 annotated + 4 unannotated runc containers started at
#                   once with the hook, then without: all enabled, state
#                   consistent, start latency percentiles side by side.
# make bench-fault-inject-runtime   the hook SIGKILLed at random instants of
#                   100 runc and 100 crun starts: crippled 0, state-broken 0.
.PHONY: bench-load bench-fault-inject-runtime
bench-load: all
	bench/load

bench-fault-inject-runtime: all
	bench/fault-inject-runtime
