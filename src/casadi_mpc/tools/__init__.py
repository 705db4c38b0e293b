"""Command-line tools, plots and test support: the demo, the offline loop, reports, the probe
that observes a running system over DDS. Not imported by the nodes."""
