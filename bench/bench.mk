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
