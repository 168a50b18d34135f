"""The parts of the notice bench (bench/notices.py): its world, its SMTP peer, its phases."""
