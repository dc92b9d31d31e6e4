"""`promptpulse demo`: realistic synthetic traffic (`traffic`), seeded once into a data directory
and served with a live trickle (`serve`)."""

from promptpulse.demo.serve import run_demo
from promptpulse.demo.traffic import DemoTraffic, rate_per_minute

__all__ = ["DemoTraffic", "rate_per_minute", "run_demo"]
