"""Training: materialised training datasets and their PyTorch view."""
