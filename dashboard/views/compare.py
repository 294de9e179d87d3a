"""Compare page: placeholder until dashboard 2 lands theirs."""

import streamlit as st

st.title("Compare")
st.info("This page is being built.")
