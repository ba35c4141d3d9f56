"""The read-only web dashboard (``bot dashboard``, or ``bot run`` with ``BOT_DASHBOARD_PORT``).

``model`` and ``svg`` are pure: series, drawdowns, the implementation shortfall and the charts
are functions of values. ``pages`` turns the view model into HTML; ``state`` reads the state
directory into the view model; ``app`` is the Starlette adapter; ``command`` serves it.
"""
