"""Streamlit-side helpers shared by the pages: cached resources and plotly charts.

Importing it also ends Streamlit's legacy `pages/` mode. On a fresh server, until some session has run
navigation.py's st.navigation, Streamlit runs a page visited by its own address (a bookmarked /quiz) alone,
without navigation.py: the sidebar lists file names and the display choices are missing. Every page imports
ui, so the first such visit switches the server to st.navigation, as navigation.py would, and runs again.
"""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:  # the switch st.navigation itself turns off
    PagesManager.uses_pages_directory = False
    st.rerun()
