"""Analysis: observations in, verdicts out. Pure: no I/O, no clock."""
