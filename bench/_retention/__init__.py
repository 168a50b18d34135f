"""Parts of the retention bench (bench/retention.py)."""
