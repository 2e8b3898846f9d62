"""The builder: Dockerfile instructions -> steps -> layers and an image config."""
