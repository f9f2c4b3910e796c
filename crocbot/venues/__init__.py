"""Execution venues behind one protocol (paper and live), and the matching engine they and the simulator share."""
