"""Pure functions over the model: trace trees, critical paths, latency, failure classes, root
-cause ranking and blast radius. `diagnose(bundle, baseline)` returns the full report."""

from incident.analysis.config import AnalysisConfig
from incident.analysis.diagnose import assessed, diagnose

__all__ = ["AnalysisConfig", "assessed", "diagnose"]
