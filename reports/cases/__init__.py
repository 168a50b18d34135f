"""The core every stage depends on: cases, their timeline and the hooks that tell later stages
what happened."""
