"""counterflow: low-code forms and workflows for service counters, as a Flask extension."""
from counterflow.core.errors import CounterflowError
from counterflow.extension import Counterflow

__all__ = ["Counterflow", "CounterflowError"]
__version__ = "0.1.0"
