"""Plots and ipywidgets, one module per chapter that needs them (``course.viz.welcome``, ...)."""
