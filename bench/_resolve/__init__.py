"""The parts of the resolution bench (bench/resolve.py): its world, its workers, the naive baseline, its figures."""
