"""What the benchmarks share; each `bench_NAME.py` keeps only what it measures.

* `peers`: the libraries irqio is measured beside (and irqio itself), one adapter each, handing
  back each library's own bound methods;
* `harness`: timing, the one percentile, bounded threads, a step runner with progress, child
  processes of this or another interpreter, machine facts;
* `report`: consoles, rich tables, the JSON output, the install hint.

The scripts import this package by name: `irqio bench` puts `benchmarks/` on `sys.path` before
it loads a script, and a script run directly has its own folder there already.
"""
