"""lossesbox dashboard entry page (streamlit run dashboard.py)."""

import streamlit as st

st.set_page_config(page_title="lossesbox", layout="wide")
st.title("lossesbox")
st.write("Classification losses on a regularized linear softmax classifier. Pages are coming.")
