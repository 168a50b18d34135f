"""The parts of the statistics bench (bench/stats.py): the fill and the timing."""
