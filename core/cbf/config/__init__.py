"""Recipes: Jsonnet evaluation, overrides, and typed binding."""
from cbf.config.binding import Component, ConfigError, bind, bind_dataclass, plugin, to_json
from cbf.config.recipe import RecipeError, apply_overrides, evaluate, load_recipe

__all__ = ["Component", "ConfigError", "RecipeError", "apply_overrides", "bind", "bind_dataclass",
           "evaluate", "load_recipe", "plugin", "to_json"]
