"""The parts of the analyst keyboard bench (bench/workspace.py): its world and its two modes."""
