"""Parameter sweeps: many backtests of one strategy over a grid of its settings.

The Python API (what ``bot sweep`` calls; import the modules, this package loads nothing):

* ``bot.sweep.plan``: ``plan_sweep(config, closes, grid_specs, windows=…, start=…, end=…,
  costs=…)`` checks everything and returns a ``SweepPlan``; ``run_sweep(plan, executor,
  workers=…)`` returns a ``PointResult`` per point, in point order.
* ``bot.sweep.grid``: ``parse_grid``, ``Grid``, ``Point``, ``config_with`` (pure).
* ``bot.sweep.point``: ``run_point(task, point)``, the pure function behind every executor.
* ``bot.sweep.executors``: ``InProcess``, ``LocalProcesses(n)``, ``DaskCluster(address)``.
* ``bot.sweep.table``: the rows, ranking, CSV and JSON; ``bot.sweep.windows``: the periods.
"""
