import numpy as np
import pytest

from radioexplore.run.tiling import axis_origins, max_overlap, tile_grid


@pytest.mark.parametrize("length", [256, 300, 511, 512, 513, 1000, 2048, 3500, 4097])
def test_crops_cover_every_pixel_inside_the_image(length):
    size = 256
    origins = axis_origins(length, size)
    assert len(origins) == int(np.ceil(length / size))
    assert origins[0] == 0 and origins[-1] + size == length  # inside, touching both edges
    covered = np.zeros(length, bool)
    for o in origins:
        covered[o : o + size] = True
    assert covered.all()


@pytest.mark.parametrize("length", [300, 700, 1000, 2048, 3500, 4097])
def test_overlap_is_the_least_possible(length):
    size = 256
    n = int(np.ceil(length / size))
    least = (n * size - length) / (n - 1)  # total excess spread over n-1 gaps
    assert max_overlap(length, size) <= np.ceil(least)
    # no arrangement of n crops does better: some gap must take at least the mean excess
    assert max_overlap(length, size) >= np.floor(least)


def test_mgcls_image_overlap_is_about_six_pixels():
    # seed 000 keeps overlaps under 10 px; a 3500 px MGCLS image gives 14 crops, 6.5 px apart
    assert len(axis_origins(3500, 256)) == 14
    assert 6 <= max_overlap(3500, 256) <= 7


def test_grid_is_row_major_from_lower_left():
    boxes = tile_grid(600, 300, 256)
    assert len(boxes) == 3 * 2
    assert (boxes[0].x0, boxes[0].y0) == (0, 0)
    assert (boxes[2].x0, boxes[2].y0) == (600 - 256, 0)
    assert (boxes[3].x0, boxes[3].y0) == (0, 300 - 256)
    for b in boxes:
        assert 0 <= b.x0 and b.x0 + b.size <= 600 and 0 <= b.y0 and b.y0 + b.size <= 300


def test_image_smaller_than_a_tile_gets_one_padded_crop():
    boxes = tile_grid(100, 80, 256)
    assert len(boxes) == 1 and (boxes[0].x0, boxes[0].y0, boxes[0].size) == (0, 0, 256)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="positive"):
        axis_origins(0, 256)
