"""A drawing pad: draw a digit with the mouse or a finger, get it back as PNG bytes.

A small bidirectional component of Streamlit's own (`st.components.v2.component`, inline
HTML, CSS and JavaScript, no build step): an HTML canvas, black ink on white paper, drawn with
pointer events (mouse, pen and touch alike). When a stroke ends, the canvas goes to Python as
a PNG data URL in the component's state; the Clear button empties it. The latest drawing is
kept in the session, and handed back to the canvas when it is drawn again (a rerun, a page
switch), so the picture stays until it is cleared.
"""

from __future__ import annotations

import base64
import binascii

import streamlit as st

PAD_SIDE = 280  # CSS pixels; ten times MNIST's 28
PEN_WIDTH = 20  # about MNIST's stroke (2-3 of 28 pixels) at this scale
DATA_URL_PREFIX = "data:image/png;base64,"

_HTML = f"""
<div class="lme-pad">
  <canvas width="{PAD_SIDE}" height="{PAD_SIDE}" aria-label="Drawing pad: draw one digit"></canvas>
  <button type="button" class="lme-clear">Clear the pad</button>
</div>
"""

_CSS = """
.lme-pad { display: flex; flex-direction: column; gap: 0.5rem; align-items: flex-start; }
.lme-pad canvas {
  border: 1px solid var(--st-border-color, #ccc); border-radius: 0.5rem;
  background: #fff; cursor: crosshair; touch-action: none;
}
.lme-pad button {
  font: inherit; padding: 0.25rem 0.75rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid var(--st-border-color, #ccc); background: var(--st-background-color, #fff);
  color: var(--st-text-color, #000);
}
"""

_JS = f"""
export default function(component) {{
  const {{ data, setStateValue, parentElement }} = component;
  const canvas = parentElement.querySelector("canvas");
  const clear = parentElement.querySelector("button.lme-clear");
  const pen = canvas.getContext("2d");
  const blank = () => {{
    pen.fillStyle = "#fff";
    pen.fillRect(0, 0, canvas.width, canvas.height);
  }};
  // This function runs again on every rerun of the page, possibly in the middle of a stroke:
  // the stroke in progress lives on the canvas, not in this closure, so a rerun set off by the
  // previous stroke cannot drop the next one.
  const pad = canvas.lmePad || (canvas.lmePad = {{ last: null, touched: false }});
  if (!canvas.dataset.ready) {{
    canvas.dataset.ready = "1";
    blank();
    if (data && data.image) {{  // the drawing kept in the session
      const picture = new Image();
      picture.onload = () => {{  // never over strokes drawn while it loaded
        if (!pad.touched) pen.drawImage(picture, 0, 0, canvas.width, canvas.height);
      }};
      picture.src = data.image;
    }}
  }}
  const at = (event) => {{
    const box = canvas.getBoundingClientRect();
    return [
      (event.clientX - box.left) * canvas.width / box.width,
      (event.clientY - box.top) * canvas.height / box.height,
    ];
  }};
  canvas.onpointerdown = (event) => {{
    canvas.setPointerCapture(event.pointerId);
    pad.touched = true;
    const last = (pad.last = at(event));
    pen.fillStyle = "#000";
    pen.beginPath();
    pen.arc(last[0], last[1], {PEN_WIDTH} / 2, 0, 2 * Math.PI);
    pen.fill();
  }};
  canvas.onpointermove = (event) => {{
    const last = pad.last;
    if (last === null) return;
    const point = at(event);
    pen.strokeStyle = "#000";
    pen.lineWidth = {PEN_WIDTH};
    pen.lineCap = "round";
    pen.lineJoin = "round";
    pen.beginPath();
    pen.moveTo(last[0], last[1]);
    pen.lineTo(point[0], point[1]);
    pen.stroke();
    pad.last = point;
  }};
  const finish = () => {{
    if (pad.last === null) return;
    pad.last = null;
    setStateValue("drawing", canvas.toDataURL("image/png"));
  }};
  canvas.onpointerup = finish;
  canvas.onpointercancel = finish;
  clear.onclick = () => {{
    blank();
    setStateValue("drawing", "");
  }};
}}
"""

_pad = st.components.v2.component("lme_draw_pad", html=_HTML, css=_CSS, js=_JS)


def draw_pad(key: str = "draw_pad") -> bytes | None:
    """Show the pad; return the drawing as PNG bytes, or None while it is empty."""
    kept = f"{key}_png"
    result = _pad(
        key=key,
        data={"image": st.session_state.get(kept)},
        default={"drawing": None},
        on_drawing_change=lambda: None,
        height=PAD_SIDE + 60,
    )
    drawn = result.get("drawing") if isinstance(result, dict) else getattr(result, "drawing", None)
    if drawn is not None:  # "" after Clear, a data URL after a stroke
        st.session_state[kept] = drawn or None
    return png_bytes(st.session_state.get(kept))


def png_bytes(data_url: str | None) -> bytes | None:
    """The PNG inside a `data:image/png;base64,...` URL; None for anything else."""
    if not data_url or not data_url.startswith(DATA_URL_PREFIX):
        return None
    try:
        return base64.b64decode(data_url.removeprefix(DATA_URL_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return None
