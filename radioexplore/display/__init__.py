"""Radio images as pictures: PNG rendering, stretches, contours, beams and the one unit helper."""
