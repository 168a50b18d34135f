"""The parts of the search bench (bench/search.py): the world and its fill, and the timing."""
