"""The benchmark: the engine measured against what users would write, side by side, in one run.

Run it as `python -m bench` (everything) or `python -m bench --quick` (training throughput and
time to accuracy only). It lives apart from the tests: tests check behaviour, the bench checks
speed, and it prints ratios measured in the same run because absolute times depend on the
machine and on whatever else is running on it.

One concept per module: `measure` (clocks and medians), `machine` (what the hardware can do),
`flops` (the work one image costs), `baseline` (the tutorial pipeline), `engine_run` (the
engine's fit, timed through its callbacks), `throughput`, `accuracy`, `latency`,
`analysis_speed`, `scaling`, `gpu`, `startup` (the measurements), `targets` (the speed goals,
met or missed), `report` (tables and JSON) and `suite` (the sections in order). Apart from
the suite, `load` puts many browser visitors on one hosted server, started by `server` (which
the browser tests use too).
"""
