"""Backtests that run the code that trades: the same cycle over daily history, and statistics."""
