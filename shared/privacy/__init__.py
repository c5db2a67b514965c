"""What Attune does to keep what clients tell it private: encryption at rest, export, erasure."""
