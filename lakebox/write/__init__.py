"""The write path of a box: one coordinator for every change to stored data (DESIGN §2)."""
