"""From images to tiles: wide-field images and stamp collections into a run, noise, scaling and source detection."""
