"""Packaged detector data: marker lists, lexicons, colour profiles, the emblem gallery (YAML and images)."""
