"""`promptpulse demo`: realistic synthetic traffic (`traffic`: a seeded generator), written once
into a data directory through the ingest pipeline (`seed`), with the experiment, budget, SLOs,
rules and alerts the pages show (`scenario`), then served with a live trickle of calls and one
key reused across restarts (`serve`, `key`)."""

from promptpulse.demo.seed import PROJECT, seed
from promptpulse.demo.serve import run_demo, trickle_task
from promptpulse.demo.traffic import DemoTraffic, rate_per_minute

__all__ = ["PROJECT", "DemoTraffic", "rate_per_minute", "run_demo", "seed", "trickle_task"]
