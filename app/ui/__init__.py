"""The dashboard's shared parts: the only package of ``app`` that imports streamlit."""
