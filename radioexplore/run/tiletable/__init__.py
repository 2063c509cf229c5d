"""The tile table (tiles.parquet): its columns and flags, its rows, and its join with scores and labels."""
