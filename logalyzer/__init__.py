"""LOGalyzer: fleet log analytics on Spark."""
__version__ = "0.1.0"
