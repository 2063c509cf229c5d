"""What the astronomer leaves with: candidate export, review coverage, MOCs and SAMP."""
