"""Learning from stored trajectories: verdict analysis, distillation, recall before acting."""
