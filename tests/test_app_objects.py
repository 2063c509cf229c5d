"""The object queue (issue 24, item 4): objects instead of tiles, each as its stamp with its facts,
labelled on its main tile with an ``object:<id>`` tag, in a "tiles / objects" toggle."""

import html

import numpy as np
import pandas as pd
import panel as pn
import pytest

from app.objects import labelled_objects, object_stamp, object_tag, read_objects
from app.views.review import ReviewQueues
from radioexplore.io.fits import read_image


def markdown_texts(viewable) -> str:
    return "\n".join(str(p.object) for p in viewable.select(pn.pane.Markdown))


def unit_toggles(review: ReviewQueues) -> list:
    return [w for w in review.__panel__().select(pn.widgets.RadioButtonGroup) if "queue-unit" in w.css_classes]


def test_the_object_queue_walks_the_objects_by_rank_with_stamp_and_facts(state, run):
    objects = pd.read_parquet(run.objects).sort_values("rank")
    assert len(objects) > 3
    review = ReviewQueues(state=state, active=True)
    assert review.current is review.tiles
    assert len(unit_toggles(review)) == 1  # the tiles / objects toggle
    review.unit = "objects"
    queue = review.current
    assert queue is review.objects and queue.active and not review.tiles.active
    first = objects[objects["tile_id"] >= 0].iloc[0]
    assert queue.current_object() == int(first["object_id"]) and queue._order == [
        int(i) for i in objects.loc[objects["tile_id"] >= 0, "object_id"]
    ]
    assert state.selected_tile == int(first["tile_id"]) == queue.panel.tile  # its label goes to its main tile
    assert f"object {int(first['object_id'])}" in queue._heading.object
    assert "**Why here:**" in queue._why.object and "object score" in queue._why.object
    meta = queue._meta.object
    for name in ("score", "size", "beams across", "flux", "tiles"):
        assert name in meta
    png = queue._picture.object
    queue._prefetcher.submit(lambda: None).result()  # the next stamps are made ahead, off the page's thread
    assert queue._order[1] in queue._pictures and queue._pictures[queue._order[1]][0].startswith(b"\x89PNG")
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG")
    # the stamp is the object's stamp box (2.5x its box) cut from its field image
    file = state.tiles().loc[state.tiles()["field"] == first["field"], "file"].iloc[0]
    image = read_image(file)
    stamp = object_stamp(image, first)
    side = int(first["stamp_size"])
    box = max(first["box_x1"] - first["box_x0"], first["box_y1"] - first["box_y0"]) + 1
    assert side >= 2.5 * box - 1 and stamp.shape == (min(side, 512),) * 2
    if side <= 512:
        expected = image.read_box(int(first["stamp_x0"]), int(first["stamp_y0"]), side)
        assert np.allclose(stamp, expected, equal_nan=True, atol=1e-6 * np.nanmax(np.abs(expected)))


def test_labelling_an_object_labels_its_tile_and_keeps_every_object_label(state, run):
    objects = read_objects(run, len(state.tiles()))
    shared = objects[objects["tile_id"] >= 0].groupby("tile_id")["object_id"].apply(list)
    shared = shared[shared.map(len) >= 2]
    assert len(shared), "the tiny run has a tile holding two objects"
    tile, (a, b) = int(shared.index[0]), shared.iloc[0][:2]
    review = ReviewQueues(state=state, active=True)
    review.unit = "objects"
    queue = review.current
    queue.position = queue._order.index(a)
    queue._show()
    assert queue.keys.press("p") and queue.keys.press("5")  # PECULIAR, interest 5, save, next
    ev = state.labels.events()
    assert ev["tile_id"].tolist() == [tile] and ev["tags"].iloc[0] == (object_tag(a),)
    assert state.labels.current()["labels"].iloc[0] == ("PECULIAR",)
    queue.position = queue._order.index(b)
    queue._show()
    assert queue.panel.tags == object_tag(b)  # the tile's judgement, re-tagged for this object
    assert queue.keys.press("e") and queue.keys.press("3")
    assert labelled_objects(state.labels.events()) == {a, b}  # the tile's last word is b's; a's label stands
    queue._refresh_order()
    assert a not in queue._order and b not in queue._order
    assert queue.keys.press("u")  # undo b's label: b is back in the queue
    queue._refresh_order()
    assert b in queue._order and a not in queue._order
    assert tile not in state.queue()  # the tile keeps a's label: the tile queue leaves it out


def test_the_object_queue_follows_the_artefact_review(state, run):
    review = ReviewQueues(state=state, active=True)
    review.unit = "objects"
    queue = review.current
    review.tiles.review = "artefacts"  # one review mode for both queues
    assert queue.review == "artefacts"
    objects = read_objects(run, len(state.tiles())).set_index("object_id")
    assert "artefact_score" in objects  # the objects' own scores, from their negative ratio
    score = objects.loc[queue._order, "artefact_score"].to_numpy()
    assert np.all(np.diff(score) <= 0) and len(queue._order) == int((objects["tile_id"] >= 0).sum())
    assert "data-quality review" in queue._why.object and "its artefact score" in queue._why.object


def test_artefact_review_orders_objects_by_their_own_artefact_score(state, run):
    """An object with a high own artefact score comes first in the data-quality review although its
    main tile's score is the lowest; the peculiar review keeps the object ranking; an old table
    (no ``artefact_score`` column) falls back to the main tile's score (issue 24)."""
    objects = pd.read_parquet(run.objects)
    on_tile = objects[objects["tile_id"] >= 0]
    tile_score = state.tiles()["artefact_score"].to_numpy(dtype=float)
    low = on_tile.iloc[int(np.argmin(tile_score[on_tile["tile_id"].to_numpy()]))]
    target = int(low["object_id"])
    assert tile_score[int(low["tile_id"])] < tile_score[on_tile["tile_id"].to_numpy()].max()  # not first by tile
    objects["artefact_score"] = np.where(objects["object_id"] == target, 0.97, 0.1).astype(np.float32)
    objects.to_parquet(run.objects)
    review = ReviewQueues(state=state, active=True)
    review.unit = "objects"
    queue = review.current
    ranked = [int(i) for i in objects[objects["tile_id"] >= 0].sort_values("rank", kind="stable")["object_id"]]
    assert queue._order == ranked  # peculiar review: the object ranking
    own = 0.97 if ranked[0] == target else 0.1
    assert f"its artefact score {own:.2f}" in html.unescape(queue._why.object)  # shown in its description
    review.tiles.review = "artefacts"
    assert queue._order[0] == target and queue.current_object() == target
    assert "its artefact score 0.97" in html.unescape(queue._why.object)
    assert "artefact score | 0.97" in html.unescape(queue._meta.object)
    # an objects.parquet written before objects had their own score: the main tile's
    objects.drop(columns="artefact_score").to_parquet(run.objects)
    queue._refresh_order()
    main = [int(queue._objects.loc[o, "tile_id"]) for o in queue._order]
    assert np.all(np.diff(tile_score[main]) <= 0) and queue._order[0] != target
    assert "its tile’s artefact score" in html.unescape(queue._why.object)
    assert "artefact score |" not in html.unescape(queue._meta.object)


def test_without_an_object_table_the_review_tab_says_how_to_make_one(state, run):
    run.objects.unlink()
    review = ReviewQueues(state=state, active=True)
    assert not review.has_objects()
    assert "radioexplore objects" in markdown_texts(review.__panel__()) and not unit_toggles(review)
    review.unit = "objects"
    assert review.current.current_object() is None and "empty" in review.current._heading.object


@pytest.mark.browser
def test_the_object_queue_in_the_page_labels_an_object_with_keys(run):
    from radioexplore.run.labels.store import LabelStore
    from tests.browser import browser_page, require_browser, served_app

    require_browser()
    objects = read_objects(run, len(run.read_tiles()))
    first = objects[objects["tile_id"] >= 0].iloc[0]
    with served_app("--run", str(run.root)) as url, browser_page() as page:
        page.goto(url + "?who=browser-test")
        page.get_by_text("Click a point on the map").first.wait_for(timeout=60_000)
        page.locator(".bk-tab", has_text="Review queue").first.click()
        page.locator(".queue-title h2").first.wait_for(timeout=30_000)
        page.locator(".queue-unit .bk-btn", has_text="Queue: objects").first.click()
        heading = page.locator(".queue-title h2", has_text="Objects 1 /").first
        heading.wait_for(timeout=30_000)
        assert f"object {int(first['object_id'])}" in heading.inner_text()
        page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not an input
        page.keyboard.press("p")
        page.keyboard.press("5")
        page.get_by_text(f"Saved tile {int(first['tile_id'])}").first.wait_for(timeout=30_000)
    events = LabelStore.for_run(run).events()  # one event (the hidden tile queue took no key)
    assert events["tile_id"].tolist() == [int(first["tile_id"])]
    assert events["tags"].iloc[0] == (object_tag(int(first["object_id"])),) and events["interest"].iloc[0] == 5
