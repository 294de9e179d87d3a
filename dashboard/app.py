"""Label Mode Explorer's dashboard: the entry point (`streamlit run dashboard/app.py`).

It sets the page up, registers every page with a stable URL path, runs the chosen one, and
adds the "Share this view" link. The pages live in dashboard/views/; the URL and share link in
dashboard/links.py, the shared caches in dashboard/caches.py, each tab's state in
dashboard/session.py, the hosted visitor in dashboard/visitor.py; all the work in `engine`.

`streamlit run` puts dashboard/ on the import path, not the project root, so `engine` and
`dashboard` come from the installed project (`pip install -e .`), or from the current folder
with `python -m streamlit run dashboard/app.py` started at the project root.
"""

from __future__ import annotations

from contextlib import suppress

import streamlit as st

from dashboard import links, session, visitor

st.set_page_config(page_title="Label Mode Explorer", page_icon="🔢", layout="wide")

PAGES = {
    "Start": [
        st.Page(links.HOME_PAGE, title="Home", icon="🏠", url_path="", default=True),
        st.Page(links.FORUM_PAGE, title="Forum questions", icon="💬", url_path="forum"),
    ],
    "Build": [
        st.Page(links.DATA_PAGE, title="Data", icon="🖼️", url_path="data"),
        st.Page(links.MODEL_PAGE, title="Model", icon="🧠", url_path="model"),
        st.Page(links.TRAIN_PAGE, title="Train", icon="🏋️", url_path="train"),
    ],
    "Analyse": [
        st.Page(links.EXPLORE_PAGE, title="Explore", icon="🔍", url_path="explore"),
        st.Page(links.COMPARE_PAGE, title="Compare", icon="⚖️", url_path="compare"),
        st.Page(links.PREDICT_PAGE, title="Predict", icon="✍️", url_path="predict"),
    ],
}

page = st.navigation(PAGES)
links.begin_script_run()
visitor.begin_visit()
visitor.housekeeping()
share_area = st.sidebar.container()
with suppress(links.PageEnded):  # a page's end_page(): the link carries what it bound so far
    page.run()
with share_area:
    links.show_share_link(page.url_path)
session.show_job_in_sidebar(page.url_path)
