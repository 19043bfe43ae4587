"""The Live mirror on a laptop's screen (1366x768, 1440x900): the video, the meter drawn at its bottom edge and
Stop all on the first screen while the learner watches their face. Chromium's fake camera, as in
tests/test_mirror_e2e.py; the element boxes are measured."""
from browser import VIDEO_FRAME, settled
from test_e2e import browser, new_page, open_page  # noqa: F401 (fixtures)
from test_mirror_e2e import app, camera_browser, data_path, press  # noqa: F401 (fixtures)

LAPTOPS = [(1366, 768), (1440, 900)]
# The video's and Stop's boxes in the page (the frame's top added), at the page's top; null until both show.
BOXES = """selector => { const frame = document.querySelector(selector), doc = frame?.contentDocument;
  const video = doc?.querySelector("video"), stop = [...(doc?.querySelectorAll("button") || [])]
    .find(b => b.textContent.trim() === "Stop");
  if (!video || !stop || !video.videoHeight) return null;
  const top = frame.getBoundingClientRect().top, place = e => { const r = e.getBoundingClientRect();
    return {top: Math.round(top + r.top), bottom: Math.round(top + r.bottom), width: Math.round(r.width)}; };
  return {video: place(video), stop: place(stop)}; }"""


def test_on_a_laptop_the_video_its_meter_and_stop_share_the_first_screen(camera_browser, app):
    with new_page(camera_browser, *LAPTOPS[0]) as page:
        page.context.grant_permissions(["camera"])
        open_page(page, app, "Live mirror")
        settled(page)
        press(page, "Start the camera")
        page.get_by_role("status").filter(has_text="The model reads").wait_for()
        for width, height in LAPTOPS:
            page.set_viewport_size({"width": width, "height": height})
            page.evaluate("document.querySelectorAll('*').forEach(e => { e.scrollTop = 0; })")
            fits = f"""() => {{ const b = ({BOXES})({VIDEO_FRAME!r});
                return b && b.video.top >= 0 && b.stop.bottom <= innerHeight && b.video.bottom <= innerHeight; }}"""
            try:  # the layout settles over a few of the browser's frames after a change of size
                page.wait_for_function(fits, timeout=10_000)
            except Exception:
                pass
            boxes = page.evaluate(f"({BOXES})({VIDEO_FRAME!r})")
            print(width, height, boxes)
            # the meter is drawn on the video's bottom rows: the video's box holds it
            assert boxes["video"]["top"] >= 0 and boxes["video"]["bottom"] <= height, (width, height, boxes)
            assert boxes["stop"]["bottom"] <= height, (width, height, boxes)
            assert boxes["video"]["width"] >= 300, boxes  # still a face to watch
