"""Schedules: the built-in Recommended one, custom ones, and message previews."""
