"""The parts of the intake bench (bench/intake.py): the URL stream and the load, and the COPY reference."""
