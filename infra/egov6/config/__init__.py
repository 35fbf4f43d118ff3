"""Stack configuration: the one declaration everything else is derived from."""

from egov6.config.loader import load_stack, load_stack_mapping, stack_path
from egov6.config.schema import StackConfig

__all__ = ["StackConfig", "load_stack", "load_stack_mapping", "stack_path"]
