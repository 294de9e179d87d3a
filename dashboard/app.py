"""Label Mode Explorer's dashboard: the entry point (`streamlit run dashboard/app.py`).

It sets the page up, registers every page with a stable URL path, runs the chosen one, and
adds the "Share this view" link. The pages live in dashboard/views/, their state and caches
in dashboard/state.py, and all the work in the `engine` package.

`streamlit run` puts dashboard/ on the import path, not the project root, so `engine` and
`dashboard` come from the installed project (`pip install -e .`), or from the current folder
with `python -m streamlit run dashboard/app.py` started at the project root.
"""

from __future__ import annotations

from contextlib import suppress

import streamlit as st

from dashboard import state

st.set_page_config(page_title="Label Mode Explorer", page_icon="🔢", layout="wide")

PAGES = {
    "Start": [
        st.Page(state.HOME_PAGE, title="Home", icon="🏠", url_path="", default=True),
        st.Page(state.FORUM_PAGE, title="Forum questions", icon="💬", url_path="forum"),
    ],
    "Build": [
        st.Page(state.DATA_PAGE, title="Data", icon="🖼️", url_path="data"),
        st.Page(state.MODEL_PAGE, title="Model", icon="🧠", url_path="model"),
        st.Page(state.TRAIN_PAGE, title="Train", icon="🏋️", url_path="train"),
    ],
    "Analyse": [
        st.Page(state.EXPLORE_PAGE, title="Explore", icon="🔍", url_path="explore"),
        st.Page(state.COMPARE_PAGE, title="Compare", icon="⚖️", url_path="compare"),
        st.Page(state.PREDICT_PAGE, title="Predict", icon="✍️", url_path="predict"),
    ],
}

page = st.navigation(PAGES)
state.begin_script_run()
share_area = st.sidebar.container()
with suppress(state.PageEnded):  # a page's end_page(): the link carries what it bound so far
    page.run()
with share_area:
    state.show_share_link(page.url_path)
