"""Streamlit-side helpers shared by the pages: cached resources, plotly charts, text shown as typed."""
