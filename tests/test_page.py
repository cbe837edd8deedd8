"""The page, end to end, in real headless Chromium against the real server.

Digits are drawn with real mouse drags and real touch events from stroke data; pictures
are sent through the file picker, drag and drop, and paste. Every test also checks that no
request left the app's own origin. Screenshots land in tests/screenshots/.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitrec.storage.feedback import FeedbackStore
from digitrec.training import renderings

from servers import start_server, stop_server
from strokes import STROKES, in_a_row, shifted, squeezed

CHROMIUM = os.environ.get("DIGITREC_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"Chromium is required in CI and is missing at {CHROMIUM}")
    pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _open(browser, url: str, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url + "/")
    page.wait_for_load_state("networkidle")
    return context, page, requests


def _assert_same_origin(requests: list[str], url: str) -> None:
    foreign = [r for r in requests if not r.startswith((url + "/", "data:", "blob:"))]
    assert foreign == [], f"requests left the app's origin: {foreign}"


@pytest.fixture
def desktop(browser, live_server):
    context, page, requests = _open(browser, live_server, viewport={"width": 1280, "height": 900})
    yield page
    _assert_same_origin(requests, live_server)
    context.close()


@pytest.fixture
def phone(browser, live_server):
    context, page, requests = _open(
        browser,
        live_server,
        viewport={"width": 360, "height": 780},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    yield page
    _assert_same_origin(requests, live_server)
    context.close()


def draw_with_mouse(page, strokes) -> None:
    box = page.get_by_test_id("draw-canvas").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=2)
        page.mouse.up()


def draw_with_touch(page, strokes) -> None:
    """Real touch events through the DevTools protocol (a finger on a phone screen)."""
    cdp = page.context.new_cdp_session(page)
    box = page.get_by_test_id("draw-canvas").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
        for kind, (x, y) in zip(kinds, points):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def answer(page) -> str:
    page.get_by_test_id("result-digit").wait_for(state="visible")
    return page.get_by_test_id("result-digit").inner_text()


def wait_for_answer(page, expected: str, testid: str = "result-digit") -> None:
    """The final answer (not one shown while drawing, which the pen-up answer replaces)."""
    sync_api.expect(page.locator("#answer")).not_to_have_attribute("aria-busy", "true", timeout=10_000)
    sync_api.expect(page.get_by_test_id(testid)).to_have_text(expected, timeout=10_000)


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """The whole page, or with ``full_page=False`` what the person sees on the screen."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


# ---- drawing -----------------------------------------------------------------------------


def test_every_digit_drawn_with_the_mouse_is_read(desktop):
    for digit, strokes in STROKES.items():
        desktop.get_by_test_id("clear").click()
        draw_with_mouse(desktop, strokes)
        wait_for_answer(desktop, str(digit))
        bar = desktop.get_by_test_id(f"prob-bar-{digit}")
        assert float(bar.get_attribute("aria-valuenow")) >= 50
    assert "%" in desktop.get_by_test_id("result-confidence").inner_text()
    assert desktop.get_by_test_id("model-view").get_attribute("src").startswith("data:image/png")
    screenshot(desktop, "desktop.png")


def test_the_answer_comes_while_the_pen_is_still_down(desktop):
    """Answers while drawing: the 8's one stroke, drawn at a person's pace, gets an answer
    before the pen lifts, and the answer for the finished digit right after."""
    box = desktop.get_by_test_id("draw-canvas").bounding_box()
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in STROKES[8][0]]
    desktop.mouse.move(*points[0])
    desktop.mouse.down()
    for point in points[1:-12]:
        desktop.mouse.move(*point, steps=2)
        desktop.wait_for_timeout(15)
    sync_api.expect(desktop.get_by_test_id("result-digit")).to_be_visible(timeout=5000)
    assert desktop.locator("#error-message").is_hidden()  # half a digit is no error
    for point in points[-12:]:
        desktop.mouse.move(*point, steps=2)
    desktop.mouse.up()
    wait_for_answer(desktop, "8")


def test_drawing_with_a_finger_on_a_phone(phone):
    for digit in (2, 4, 7):
        phone.get_by_test_id("clear").click()
        draw_with_touch(phone, STROKES[digit])
        wait_for_answer(phone, str(digit))
    # Drawing must not scroll the page.
    assert phone.evaluate("window.scrollY") == 0
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "the layout is wider than a 360 px phone"
    # Keyboard shortcuts are not offered on a touch screen.
    assert not phone.locator(".keys").is_visible()
    screenshot(phone, "phone.png")


def test_a_long_number_written_across_a_phone_is_read(phone):
    # Five digits across the phone's canvas with a finger: each a quarter as wide as usual,
    # the last one up to the edge (this read "1111").
    draw_with_touch(phone, squeezed([1, 2, 3, 4, 7], 0.25))
    wait_for_answer(phone, "12347", testid="result-number")
    assert phone.locator("#canvas-boxes .box").count() == 5
    screenshot(phone, "phone-number.png")


def test_eight_small_digits_across_a_phone_are_read(phone):
    """Digits a fifth of the canvas tall: with the page's broad marker (7.5 % of the
    canvas, until session 15) their loops filled up and "31415926" came back a sure
    "11115986"; with a felt pen's width the engine brings to MNIST's, they are read."""
    draw_with_touch(phone, in_a_row("31415926", 0.2, 0.11))
    wait_for_answer(phone, "31415926", testid="result-number")


def test_a_letter_is_not_shown_as_a_digit(desktop):
    # A capital A: two slanted strokes and a bar.
    draw_with_mouse(desktop, [[(0.3, 0.8), (0.5, 0.2), (0.7, 0.8)], [(0.38, 0.58), (0.62, 0.58)]])
    sync_api.expect(desktop.get_by_test_id("result-confidence")).to_contain_text(
        "does not look like a digit", timeout=10_000
    )
    sync_api.expect(desktop.get_by_test_id("result-digit")).to_have_text("?")
    sync_api.expect(desktop.get_by_test_id("copy")).to_be_hidden()
    screenshot(desktop, "not-a-digit.png")


def test_a_number_with_a_mark_that_is_no_digit_says_so(desktop):
    """A "4" and a hash sign: the number's confidence, a product with the mark's, read
    "Not sure: under 1%" though the 4 is sure; it says which marks are the trouble."""
    hash_sign = [
        [(0.66, 0.36), (0.66, 0.64)],
        [(0.78, 0.36), (0.78, 0.64)],
        [(0.6, 0.44), (0.84, 0.44)],
        [(0.6, 0.56), (0.84, 0.56)],
    ]
    draw_with_mouse(desktop, shifted(STROKES[4], dx=-0.22, scale=0.6) + hash_sign)
    wait_for_answer(desktop, "4?", testid="result-number")
    sync_api.expect(desktop.get_by_test_id("result-confidence")).to_have_text(
        "Not sure: 1 of 2 marks does not look like a digit"
    )


def test_tapping_the_digit_that_was_read_corrects_nothing(desktop):
    draw_with_mouse(desktop, STROKES[7])
    wait_for_answer(desktop, "7")
    desktop.get_by_test_id("feedback-7").click()
    sync_api.expect(desktop.locator("#feedback-status")).to_have_text(
        "That is what it read (7): nothing to correct."
    )
    desktop.get_by_test_id("feedback-8").click()
    sync_api.expect(desktop.locator("#feedback-status")).to_contain_text("saved as an 8")


def test_a_number_is_read_left_to_right_with_boxes(desktop):
    strokes = shifted(STROKES[4], dx=-0.22, scale=0.55) + shifted(STROKES[2], dx=0.22, scale=0.55)
    draw_with_mouse(desktop, strokes)
    wait_for_answer(desktop, "42", testid="result-number")
    assert desktop.locator("#canvas-boxes .box").count() == 2


def test_touching_digits_are_read_as_a_number(desktop):
    # Drawn this close, the 3 and the 5 are one connected piece of ink.
    strokes = shifted(STROKES[3], dx=-0.14, scale=0.55) + shifted(STROKES[5], dx=0.14, scale=0.55)
    draw_with_mouse(desktop, strokes)
    wait_for_answer(desktop, "35", testid="result-number")
    assert desktop.locator("#canvas-boxes .box").count() == 2


def test_undo_removes_the_last_stroke(desktop):
    bar, stem = STROKES[7]
    draw_with_mouse(desktop, [stem, bar])  # a 7 drawn stem first
    wait_for_answer(desktop, "7")
    desktop.get_by_test_id("undo").click()  # the bar goes, the stem is left: a 1
    wait_for_answer(desktop, "1")
    desktop.keyboard.press("Control+z")  # nothing left
    sync_api.expect(desktop.get_by_test_id("result-digit")).to_be_hidden()


def test_clear_and_the_empty_canvas_message(desktop):
    draw_with_mouse(desktop, STROKES[3])
    wait_for_answer(desktop, "3")
    desktop.get_by_test_id("clear").click()
    sync_api.expect(desktop.get_by_test_id("result-digit")).to_be_hidden()
    desktop.get_by_test_id("predict").click()
    sync_api.expect(desktop.get_by_test_id("error-message")).to_have_text("Draw a digit first.")
    blank = desktop.evaluate(
        """() => { const c = document.getElementById('draw-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return d.every((v, i) => i % 4 !== 3 || v === 0); }"""
    )
    assert blank


# ---- pictures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pictures(mnist_test_set, tmp_path_factory):
    images, labels = mnist_test_set
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(11)
    index = {int(d): int(np.flatnonzero(labels == d)[3]) for d in (3, 5, 8)}
    transparent = folder / "canvas.png"
    transparent.write_bytes(renderings.transparent_canvas(images[index[3]], rng))
    photo = folder / "photo.jpg"
    photo.write_bytes(renderings.photo_jpeg(images[index[5]], rng))
    scan = folder / "scan.png"
    scan.write_bytes(renderings.dark_on_white(images[index[8]], rng))
    notes = folder / "notes.txt"
    notes.write_text("this is not an image")
    return {"transparent": transparent, "photo": photo, "scan": scan, "text": notes}


def test_examples_are_read_with_one_click(phone):
    expected = {0: "2024", 1: "7", 2: "8", 3: "5"}
    for index, text in expected.items():
        phone.get_by_test_id(f"example-{index}").click()
        sync_api.expect(phone.get_by_test_id("preview")).to_be_visible()
        if len(text) > 1:
            wait_for_answer(phone, text, testid="result-number")
        else:
            wait_for_answer(phone, text)
        assert phone.locator("#result-title").inner_text() == "Answer: your picture"
    screenshot(phone, "example-360x780.png")


def test_take_a_photo_is_offered_on_a_phone_only(desktop, phone):
    sync_api.expect(phone.get_by_test_id("camera-button")).to_be_visible()
    sync_api.expect(desktop.get_by_test_id("camera-button")).to_be_hidden()


def test_upload_a_transparent_png_and_a_jpeg_photo(desktop, pictures):
    desktop.get_by_test_id("upload-input").set_input_files(str(pictures["transparent"]))
    wait_for_answer(desktop, "3")
    desktop.get_by_test_id("upload-input").set_input_files(str(pictures["photo"]))
    wait_for_answer(desktop, "5")
    assert desktop.get_by_test_id("preview").is_visible()


def test_a_photo_of_shapes_is_no_number(desktop, tmp_path):
    """Two shapes read as a "number" of two marks, neither a digit: it said the number
    "??", "Not sure", and asked which digit is wrong."""
    picture = Image.new("RGB", (640, 480), (235, 232, 225))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((77, 120, 269, 360), fill=(40, 160, 60))
    draw.rectangle((352, 144, 563, 336), fill=(40, 60, 170))
    picture.save(tmp_path / "scene.jpg", quality=90)
    desktop.get_by_test_id("upload-input").set_input_files(str(tmp_path / "scene.jpg"))
    sync_api.expect(desktop.locator("#result-confidence")).to_have_text(
        "This does not look like a digit or a number", timeout=10_000
    )
    sync_api.expect(desktop.get_by_test_id("copy")).to_be_hidden()


# The answer's digit (or its error) is on the screen.
ANSWER_IN_VIEW = """() => { const shown = ["result-digit", "error-message"].map((id) => document.getElementById(id))
                                .find((el) => !el.hidden && el.offsetParent !== null);
                            if (!shown) return false;
                            const r = shown.getBoundingClientRect();
                            return r.top >= 0 && r.bottom <= window.innerHeight; }"""
TO_THE_BOTTOM = "() => window.scrollTo(0, document.documentElement.scrollHeight)"


def test_on_a_phone_the_answer_to_a_picture_comes_into_view(browser, live_server, pictures):
    """The answer sits between the canvas and the upload buttons: on a phone, with an
    answer and its picture on the page, the next picture's answer was off-screen (above the
    buttons) and the person saw nothing happen. It is scrolled into view, and so is the
    error for a file that is not a picture."""
    context, page, _ = _open(
        browser, live_server, viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True
    )
    page.get_by_test_id("upload-input").set_input_files(str(pictures["scan"]))
    wait_for_answer(page, "8")
    page.evaluate(TO_THE_BOTTOM)  # where the person finds the buttons again
    page.get_by_test_id("upload-input").set_input_files(str(pictures["photo"]))
    wait_for_answer(page, "5")
    page.wait_for_function(ANSWER_IN_VIEW)
    screenshot(page, "picture-answer-360x640.png", full_page=False)
    page.evaluate(TO_THE_BOTTOM)
    page.get_by_test_id("upload-input").set_input_files(str(pictures["text"]))
    sync_api.expect(page.get_by_test_id("error-message")).to_contain_text("not an image")
    page.wait_for_function(ANSWER_IN_VIEW)
    context.close()


def test_an_empty_file_after_a_picture_does_not_leave_the_old_picture(desktop, pictures, tmp_path):
    desktop.get_by_test_id("upload-input").set_input_files(str(pictures["photo"]))
    wait_for_answer(desktop, "5")
    assert desktop.get_by_test_id("preview").is_visible()
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    desktop.get_by_test_id("upload-input").set_input_files(str(empty))
    sync_api.expect(desktop.get_by_test_id("error-message")).to_contain_text("empty")
    assert not desktop.get_by_test_id("preview").is_visible()


def _file_handle(page, path: Path, mime: str):
    data = base64.b64encode(path.read_bytes()).decode()
    return page.evaluate_handle(
        """([data, name, mime]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer; }""",
        [data, path.name, mime],
    )


def test_drag_and_drop_a_picture(desktop, pictures):
    transfer = _file_handle(desktop, pictures["scan"], "image/png")
    for event in ("dragenter", "dragover", "drop"):
        desktop.dispatch_event("#dropzone", event, {"dataTransfer": transfer})
    wait_for_answer(desktop, "8")


def test_a_picture_dropped_on_the_canvas_is_used_and_the_page_stays(desktop, pictures):
    """The canvas is where people drop a picture; the browser must not open the file."""
    url = desktop.url
    transfer = _file_handle(desktop, pictures["scan"], "image/png")
    for event in ("dragenter", "dragover", "drop"):
        desktop.dispatch_event("[data-testid=draw-canvas]", event, {"dataTransfer": transfer})
    wait_for_answer(desktop, "8")
    assert desktop.url == url


@pytest.mark.parametrize("width, height", [(360, 640), (390, 844), (844, 390), (1280, 800)])
def test_a_six_digit_number_is_shown_on_one_line(
    browser, live_server, recognizer, mnist_test_set, tmp_path, width, height
):
    images, labels = mnist_test_set
    rng = np.random.default_rng(20)
    picked = [int(np.flatnonzero(labels == d)[5]) for d in (2, 0, 2, 4, 0, 8)]
    data = renderings.compose_number([images[i] for i in picked], rng)
    number = recognizer.read_number(data).number
    assert len(number) == 6
    path = tmp_path / "number.png"
    path.write_bytes(data)
    context, page, requests = _open(browser, live_server, viewport={"width": width, "height": height})
    try:
        page.get_by_test_id("upload-input").set_input_files(str(path))
        wait_for_answer(page, number, testid="result-number")
        lines, overflow = page.get_by_test_id("result-number").evaluate(
            """(el) => [el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).fontSize),
                        el.scrollWidth - el.clientWidth]"""
        )
        screenshot(page, f"number-{width}x{height}.png")
    finally:
        context.close()
    _assert_same_origin(requests, live_server)
    assert lines < 1.5 and overflow <= 1, (lines, overflow)


def test_one_input_one_answer(desktop, pictures):
    """A picture replaces the drawing, a drawing replaces the picture, and Clear (or Esc)
    clears whichever is shown; the answer says which it is about."""
    title = desktop.locator("#result-title")
    desktop.get_by_test_id("upload-input").set_input_files(str(pictures["scan"]))
    wait_for_answer(desktop, "8")
    sync_api.expect(title).to_have_text("Answer: your picture")
    draw_with_mouse(desktop, STROKES[7])
    wait_for_answer(desktop, "7")
    sync_api.expect(title).to_have_text("Answer: your drawing")
    assert not desktop.get_by_test_id("preview").is_visible()
    desktop.get_by_test_id("upload-input").set_input_files(str(pictures["scan"]))
    wait_for_answer(desktop, "8")
    sync_api.expect(title).to_have_text("Answer: your picture")
    blank = desktop.get_by_test_id("draw-canvas").evaluate(
        "(c) => !c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v)"
    )
    assert blank  # the drawing went with the new picture
    desktop.keyboard.press("Escape")
    sync_api.expect(desktop.get_by_test_id("preview")).to_be_hidden()
    sync_api.expect(desktop.locator("#result")).to_be_hidden()
    sync_api.expect(title).to_have_text("Answer")


def test_a_picture_too_large_for_the_server_is_shrunk_by_the_page(desktop, pictures, tmp_path):
    """A 24 MP PNG (the server reads other formats than JPEG up to 16 MP) and an AVIF: the
    page shrinks the first to 2048 px before sending it instead of showing a 413."""
    scan = cv2.imdecode(np.frombuffer(pictures["scan"].read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
    page = np.full((4000, 6000), 255, np.uint8)
    page[1000:3000, 2000:4000] = cv2.resize(scan, (2000, 2000), interpolation=cv2.INTER_LINEAR)
    huge = tmp_path / "huge.png"
    huge.write_bytes(cv2.imencode(".png", page)[1].tobytes())
    desktop.get_by_test_id("upload-input").set_input_files(str(huge))
    wait_for_answer(desktop, "8")
    avif = tmp_path / "photo.avif"
    Image.open(pictures["photo"]).save(avif, "AVIF")
    desktop.get_by_test_id("upload-input").set_input_files(str(avif))
    wait_for_answer(desktop, "5")


def test_a_refused_picture_takes_its_error_away_when_removed(desktop, tmp_path):
    blank = tmp_path / "blank.png"
    blank.write_bytes(cv2.imencode(".png", np.full((200, 200), 255, np.uint8))[1].tobytes())
    desktop.get_by_test_id("upload-input").set_input_files(str(blank))
    sync_api.expect(desktop.locator("#error-message")).to_contain_text("blank")
    desktop.get_by_test_id("remove-picture").click()
    sync_api.expect(desktop.locator("#error-message")).to_be_hidden()
    sync_api.expect(desktop.locator("#placeholder")).to_be_visible()


def test_the_picture_can_be_removed(desktop, pictures):
    desktop.get_by_test_id("upload-input").set_input_files(str(pictures["photo"]))
    wait_for_answer(desktop, "5")
    desktop.get_by_test_id("remove-picture").click()
    sync_api.expect(desktop.get_by_test_id("preview")).to_be_hidden()
    sync_api.expect(desktop.locator("#result")).to_be_hidden()


def test_only_the_focused_file_button_gets_a_focus_ring(desktop):
    desktop.get_by_test_id("upload-input").focus()
    desktop.keyboard.press("Shift+Tab")
    desktop.keyboard.press("Tab")  # focus-visible comes with keyboard focus
    rings = desktop.evaluate(
        """() => [...document.querySelectorAll('.upload-buttons .button')]
                  .map((label) => getComputedStyle(label).outlineStyle)"""
    )
    assert rings == ["solid", "none"], rings


def test_the_canvas_and_its_buttons_fit_a_landscape_phone(browser, live_server):
    context, page, requests = _open(
        browser, live_server, viewport={"width": 844, "height": 390}, is_mobile=True, has_touch=True
    )
    try:  # as the page opens, scrolled to the top: the header takes its share
        canvas = page.get_by_test_id("draw-canvas").bounding_box()
        predict = page.get_by_test_id("predict").bounding_box()
        screenshot(page, "landscape-844x390.png")
    finally:
        context.close()
    _assert_same_origin(requests, live_server)
    assert canvas["height"] >= 180 and canvas["y"] >= 0
    assert predict["y"] + predict["height"] <= 390, (canvas, predict)


def test_paste_a_picture(desktop, pictures):
    transfer = _file_handle(desktop, pictures["photo"], "image/jpeg")
    desktop.evaluate(
        "(t) => document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: t }))", transfer
    )
    wait_for_answer(desktop, "5")


def test_a_file_that_is_not_an_image_shows_an_error(desktop, pictures):
    desktop.get_by_test_id("upload-input").set_input_files(str(pictures["text"]))
    message = desktop.get_by_test_id("error-message")
    sync_api.expect(message).to_be_visible()
    assert "not an image" in message.inner_text()
    # A file with an image type that is not one shows no broken picture either.
    broken = pictures["text"].with_name("broken.png")
    broken.write_bytes(b"not a png at all")
    desktop.get_by_test_id("upload-input").set_input_files(str(broken))
    sync_api.expect(message).to_contain_text("not an image")
    assert not desktop.get_by_test_id("preview").is_visible()


def test_a_file_that_is_not_a_picture_leaves_the_drawing(desktop, pictures):
    """Choosing a PDF or a text by mistake must not wipe a drawing: the error is about the
    file, and the drawing is still there to be read."""
    draw_with_mouse(desktop, STROKES[7])
    wait_for_answer(desktop, "7")
    desktop.get_by_test_id("upload-input").set_input_files(str(pictures["text"]))
    sync_api.expect(desktop.get_by_test_id("error-message")).to_contain_text("not an image")
    sync_api.expect(desktop.locator("#result-title")).to_have_text("Answer: your picture")
    desktop.get_by_test_id("predict").click()
    wait_for_answer(desktop, "7")
    sync_api.expect(desktop.locator("#result-title")).to_have_text("Answer: your drawing")
    empty = pictures["text"].with_name("empty.png")
    empty.write_bytes(b"")
    desktop.get_by_test_id("upload-input").set_input_files(str(empty))
    sync_api.expect(desktop.get_by_test_id("error-message")).to_have_text(
        "That file is empty: choose a picture of a digit."
    )


def test_an_unknown_address_gets_a_page_of_the_app(desktop, live_server):
    response = desktop.goto(live_server + "/no/such/page")
    assert response.status == 404
    sync_api.expect(desktop.get_by_role("heading", name="Page not found")).to_be_visible()
    desktop.get_by_role("link", name="Back to the digit recogniser").click()
    sync_api.expect(desktop.get_by_test_id("draw-canvas")).to_be_visible()


# ---- keyboard and accessibility -------------------------------------------------------------


def _tab_to(page, testid: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.dataset?.testid") == testid:
            return
    raise AssertionError(f"could not reach {testid} with the Tab key")


def test_keyboard_only_use(desktop, pictures):
    assert desktop.locator(".keys").is_visible()  # the shortcuts are offered with a keyboard
    _tab_to(desktop, "predict")
    desktop.keyboard.press("Enter")
    sync_api.expect(desktop.get_by_test_id("error-message")).to_have_text("Draw a digit first.")
    _tab_to(desktop, "upload-input")
    for key in ("Space", "Enter"):  # both open a focused file input
        try:
            with desktop.expect_file_chooser(timeout=5_000) as chooser:
                desktop.keyboard.press(key)
            break
        except sync_api.TimeoutError:
            assert desktop.evaluate("document.activeElement?.dataset?.testid") == "upload-input"
    else:
        raise AssertionError("neither Space nor Enter opened the file chooser")
    chooser.value.set_files(str(pictures["scan"]))
    wait_for_answer(desktop, "8")
    assert "8" in desktop.locator("#status").inner_text()  # announced via aria-live
    _tab_to(desktop, "feedback-3")
    desktop.keyboard.press("Enter")
    sync_api.expect(desktop.locator("#feedback-status")).not_to_be_empty()


def test_controls_are_labelled(desktop):
    for testid in ("draw-canvas", "clear", "undo", "predict", "upload-input"):
        element = desktop.get_by_test_id(testid)
        name = element.evaluate(
            "(e) => e.getAttribute('aria-label') || e.labels?.[0]?.innerText || e.innerText"
        )
        assert name.strip(), testid
    assert desktop.locator("[aria-live]").count() >= 1


def test_dark_mode_follows_the_system(browser, live_server):
    context, page, requests = _open(browser, live_server, color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    draw_with_mouse(page, STROKES[9])
    wait_for_answer(page, "9")
    screenshot(page, "desktop-dark.png")
    context.close()
    _assert_same_origin(requests, live_server)
    red, green, blue = (int(v) for v in background[4:-1].split(",")[:3])
    assert red + green + blue < 150, background


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_wcag_aa_violations_with_an_answer_on_screen(browser, live_server, scheme):
    """axe-core (bundled by axe-playwright-python) checks WCAG 2 A and AA, contrast included."""
    from axe_playwright_python.sync_playwright import Axe

    context, page, requests = _open(browser, live_server, color_scheme=scheme)
    draw_with_mouse(page, STROKES[5])
    wait_for_answer(page, "5")
    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    results = Axe().run(page, options=options)
    report = results.generate_report() if results.violations_count else ""
    context.close()
    _assert_same_origin(requests, live_server)
    assert results.response["testEngine"]["name"] == "axe-core" and results.response["passes"]
    assert results.violations_count == 0, report


# ---- corrections ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_with_data(tmp_path_factory):
    """A server of this module's own, whose corrections database the tests can read."""
    data = tmp_path_factory.mktemp("page-data")
    process, url = start_server({"DIGITREC_DATA_DIR": str(data)}, workers=1)
    yield url, f"sqlite:///{data / 'feedback.sqlite3'}"
    stop_server(process)


def test_correcting_one_digit_of_a_number_stores_that_digit(
    browser, server_with_data, mnist_test_set, tmp_path
):
    url, database = server_with_data
    images, labels = mnist_test_set
    picked = [int(np.flatnonzero(labels == d)[1]) for d in (4, 2)]
    path = tmp_path / "forty-two.png"
    path.write_bytes(renderings.compose_number([images[i] for i in picked], np.random.default_rng(4)))
    context, page, requests = _open(browser, url, viewport={"width": 390, "height": 844})
    try:
        page.get_by_test_id("upload-input").set_input_files(str(path))
        wait_for_answer(page, "42", testid="result-number")
        page.get_by_test_id("feedback-3").click()
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("First tap the digit that is wrong")
        page.get_by_test_id("digit-choice-1").click()
        sync_api.expect(page.get_by_test_id("digit-choice-1")).to_have_attribute("aria-pressed", "true")
        page.get_by_test_id("feedback-3").click()
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("the 2nd digit saved as a 3")
        screenshot(page, "correct-one-digit-390x844.png")
        store = FeedbackStore(database)
        assert [(r.predicted, r.correct, r.digit_index) for r in store.recent(10)] == [(2, 3, 1)]
        # A change of mind replaces the correction instead of storing a contradiction...
        page.get_by_test_id("feedback-5").click()
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("It replaces what you sent before")
        assert [(r.predicted, r.correct, r.digit_index) for r in store.recent(10)] == [(2, 5, 1)]
        # Undo stays offered while another digit is chosen...
        page.get_by_test_id("digit-choice-0").click()
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("The 1st digit")
        sync_api.expect(page.get_by_test_id("undo-correction")).to_be_visible()
        # ...fast taps are stored in order: the last one wins...
        page.evaluate(
            "['9', '8', '7', '6'].forEach((d) => document.querySelector(`[data-testid=feedback-${d}]`).click())"
        )
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("saved as a 6")
        assert sorted((r.digit_index, r.correct) for r in store.recent(10)) == [(0, 6), (1, 5)]
        # ...and Undo withdraws them all.
        page.get_by_test_id("undo-correction").click()
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("Undone")
        sync_api.expect(page.get_by_test_id("undo-correction")).to_be_hidden()
    finally:
        context.close()
    _assert_same_origin(requests, url)
    assert FeedbackStore(database).recent(10) == []


def test_typing_the_whole_number_when_the_digits_were_miscounted(browser, server_with_data):
    """A 7 written with a gap read as two digits: the person types 7; it is kept as a
    number-level correction, and the one-digit corrections are untouched."""
    url, database = server_with_data
    before = FeedbackStore(database).count()
    context, page, requests = _open(browser, url)
    try:
        strokes = shifted(STROKES[4], dx=-0.22, scale=0.55) + shifted(STROKES[2], dx=0.22, scale=0.55)
        draw_with_mouse(page, strokes)
        wait_for_answer(page, "42", testid="result-number")
        # Every digit of a number shows its own 28x28; no squashed whole, no ten bars.
        assert page.locator(".digit-choice img").count() == 2
        assert not page.get_by_test_id("model-view").is_visible() and not page.locator("#bars").is_visible()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        page.get_by_test_id("copy").click()
        sync_api.expect(page.get_by_test_id("copy")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == "42"
        page.get_by_test_id("typed-number").fill("4x2")
        page.get_by_test_id("send-number").click()
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("digits 0-9 only")
        assert FeedbackStore(database).number_corrections(1) == []  # the page refused it
        page.get_by_test_id("typed-number").fill(" 4 2 ")  # what it read, spaces and all
        page.get_by_test_id("send-number").click()
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("nothing to correct")
        page.get_by_test_id("typed-number").fill("412")
        page.get_by_test_id("typed-number").press("Enter")
        sync_api.expect(page.locator("#feedback-status")).to_contain_text("saved as the number 412")
        screenshot(page, "typed-number-1280x800.png")
    finally:
        context.close()
    _assert_same_origin(requests, url)
    store = FeedbackStore(database)
    assert [(read, typed) for _, read, typed in store.number_corrections(10)] == [("42", "412")]
    assert store.count() == before


def test_the_admin_pages_fit_a_phone(browser, tmp_path):
    """The model versions table has eight columns: on a 390 px phone it scrolls inside
    its own box instead of widening the whole page."""
    process, url = start_server(
        {"DIGITREC_DATA_DIR": str(tmp_path), "DIGITREC_ADMIN_TOKEN": "s3cret-for-the-page"}, workers=1
    )
    try:
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
            extra_http_headers={"Authorization": "Bearer s3cret-for-the-page"},
        )
        page = context.new_page()
        for path in ("/admin/models", "/admin"):
            page.goto(url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        page.goto(url + "/admin/models")
        sync_api.expect(page.get_by_test_id("version-1")).to_be_visible()
        screenshot(page, "admin-models-390x844.png")
        context.close()
    finally:
        stop_server(process)
