"""A testing kit for plugin authors: contract checks and tiny synthetic components."""
from cbf.testing.contracts import ContractResult, build_tiny_run, check_objective, first_batch, tiny_recipe

__all__ = ["ContractResult", "build_tiny_run", "check_objective", "first_batch", "tiny_recipe"]
