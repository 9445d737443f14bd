"""Placeholder until the experiment runner lands (replaced in the next dashboard commit)."""

import streamlit as st

from lossesbox.app.widgets import page_setup

page_setup("Compare_runs")
st.title("Compare_runs".replace("_", " "))
st.info("This page is being built; train from the command line meanwhile.")
