"""Enrollments: one lead on one schedule, its state, and the commands that move it."""
