"""The course training loop, checkpoints, early stopping and metrics (chapter 04)."""
